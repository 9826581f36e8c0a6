"""Code that runs inside the Rasa server (.venv-rasa, Python 3.10): custom graph components and our input
channel, loaded by module path from config.yml and credentials.yml. It cannot import the app, with one
exception: bot/redaction.py, the privacy rule both sides share, which is stdlib only and Python 3.10 for this."""
