"""The Textual UI of recdesk: one module per screen. Depends on recdesk, never the reverse."""
