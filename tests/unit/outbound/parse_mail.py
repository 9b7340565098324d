#!/usr/bin/env python3
"""Parses one RFC 5322 message with Python's email package and prints what
mail_test.cc checks, as JSON: decoded headers and every leaf MIME part."""
import email
import email.policy
import json
import sys

with open(sys.argv[1], "rb") as f:
    raw = f.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
parts = []
for part in msg.walk():
    if part.is_multipart():
        continue
    parts.append({
        "type": part.get_content_type(),
        "charset": part.get_content_charset(),
        "cte": part.get("Content-Transfer-Encoding", ""),
        "body": part.get_content(),
    })
print(json.dumps({
    "from": str(msg["From"]),
    "to": str(msg["To"]),
    "subject": str(msg["Subject"]),
    "date": str(msg["Date"]),
    "date_parsed": msg["Date"].datetime is not None if msg["Date"] else False,
    "message_id": str(msg["Message-ID"]),
    "mime_version": str(msg["MIME-Version"]),
    "content_type": msg.get_content_type(),
    "defects": [str(d) for d in msg.defects] + [str(d) for p in msg.walk() for d in p.defects],
    "parts": parts,
    "raw_ascii": all(b < 128 for b in raw),
    "max_line": max(len(l) for l in raw.split(b"\n")),
}))
