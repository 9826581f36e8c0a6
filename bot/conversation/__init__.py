"""The conversation core: one inbound message, the order of the checks, the Rasa client, the reduced mode."""
