"""The d2sd terminal chat app (`python -m app.chat`)."""
