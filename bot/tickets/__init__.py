"""The ticket store: complaints, reports, suggestions and disclosure requests filed from a conversation.

service = open_ticket_service()
receipt = service.create(draft)  # committed before it returns
"""

from bot.tickets.deadlines import DEFAULT_DEADLINE_DAYS, DeadlinePolicy, WorkingCalendar
from bot.tickets.domain import TicketDraft, TicketKind, TicketReceipt, TicketStatus, TicketView
from bot.tickets.privacy import mask_phone, normalize_mainland_phone
from bot.tickets.service import TicketService, open_ticket_service

__all__ = [
    "DEFAULT_DEADLINE_DAYS",
    "DeadlinePolicy",
    "TicketDraft",
    "TicketKind",
    "TicketReceipt",
    "TicketService",
    "TicketStatus",
    "TicketView",
    "WorkingCalendar",
    "mask_phone",
    "normalize_mainland_phone",
    "open_ticket_service",
]
