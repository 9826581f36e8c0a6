"""WeChat Official Account (公众号) messaging: see channel.py; the webhook router is bot/api/wechat.py."""
