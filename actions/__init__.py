"""Rasa custom actions (rasa-sdk, Python 3.11). They stay thin: retrieval lives in index/."""
