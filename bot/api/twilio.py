"""Twilio's webhooks: the phone IVR (POST /channels/twilio/voice and its follow-ups) and SMS (POST
/channels/twilio/sms). Thin: the signature is checked first (bot/channels/twilio_webhooks.py: 403 if forged or
missing, 404 while Twilio is not configured), then the adapter translates (bot/channels/twilio_voice.py,
twilio_sms.py) and the TwiML goes back as XML."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from twilio.twiml import TwiML

from bot.channels.twilio_voice import CallInput, Misses, VoiceIvr
from bot.channels.twilio_webhooks import webhooks_of

router = APIRouter(prefix="/channels/twilio", include_in_schema=False)


def _twiml(response: TwiML) -> Response:
    return Response(content=str(response), media_type="application/xml")


async def _signed(request: Request) -> dict[str, str]:
    return await webhooks_of(request).verified_form(request)


def _call(form: dict[str, str]) -> CallInput:
    call = CallInput.from_form(form)
    if not call.call_sid:  # Twilio always sends it; without it there is no conversation to continue
        raise HTTPException(status_code=422, detail="缺少 CallSid。")
    return call


def _ivr(request: Request) -> VoiceIvr:
    ivr: VoiceIvr = request.app.state.voice_ivr
    return ivr


@router.post("/voice")
async def incoming_call(request: Request) -> Response:
    form = await _signed(request)
    return _twiml(await _ivr(request).answer(_call(form)))


@router.post("/voice/menu")
async def menu(request: Request) -> Response:
    form = await _signed(request)
    misses = Misses.from_query(request.query_params)
    return _twiml(await _ivr(request).menu(_call(form), misses))


@router.post("/voice/turn")
async def turn(request: Request) -> Response:
    form = await _signed(request)
    misses = Misses.from_query(request.query_params)
    return _twiml(await _ivr(request).turn(_call(form), misses))


@router.post("/voice/wait")
async def waiting(request: Request) -> Response:
    form = await _signed(request)
    return _twiml(_ivr(request).wait(form))


@router.post("/voice/queue")
async def after_person(request: Request) -> Response:
    form = await _signed(request)
    return _twiml(await _ivr(request).after_person(_call(form), form))


@router.post("/sms")
async def sms(request: Request) -> Response:
    form = await _signed(request)
    return _twiml(await request.app.state.sms_adapter.receive(form))
