"""The exchange's front doors: one venue-session base (``base``) and a module per dialect.

OBX (binary, protobuf): ``obx`` (handlers) over ``obx_codec`` (framing). TLX (FIX-like
tag=value): ``tlx`` (application messages) over ``tlx_session`` (sequencing, resend, gap fill,
logon, heartbeats), ``tlx_codec`` (framing) and ``tlx_tags`` (the data dictionary).
"""
