"""The desk's dialogs, one modal per file: a message, a choice, a line of text, a purpose of access, help ..."""
