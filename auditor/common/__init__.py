"""What every part of auditor shares and that imports nothing else of auditor: the vocabulary,
terminal-safe text. Importing it costs nothing, so commands that only print help stay fast."""
