"""Plays the person at the browser for `jit login`: opens the verification URL, confirms
the code, signs in as USER on the provider's sign-in page and consents, following each form
the pages return (with their cookies and hidden fields), as a browser would.

    python approve_device.py VERIFICATION_URI_COMPLETE USER
"""
import html
import re
import sys

import requests

uri, user = sys.argv[1], sys.argv[2]
session = requests.Session()
page = session.get(uri, timeout=30)
for _ in range(10):
    forms = re.findall(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page.text, re.S)
    if not forms:
        break
    action, body = forms[0]
    data = {}
    for attrs in re.findall(r"<input([^>]*)>", body):
        name = re.search(r'name="([^"]*)"', attrs)
        if name:
            value = re.search(r'value="([^"]*)"', attrs)
            data[name.group(1)] = html.unescape(value.group(1)) if value else ""
    if "login" in data:
        data["login"], data["password"] = user, "any"
    if "confirm" in data and not data["confirm"]:
        data["confirm"] = "yes"
    page = session.post(requests.compat.urljoin(page.url, html.unescape(action)), data=data, timeout=30)
text = re.sub(r"<[^>]+>", " ", page.text)
if "Sign-in Success" not in text:
    sys.exit(f"the device was not approved: {page.status_code} {' '.join(text.split())[:300]}")
print("approved")
