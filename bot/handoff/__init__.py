"""Who owns a conversation (bot, queue, operator): the state machine, the queue, timeouts, live events."""
