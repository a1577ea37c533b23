"""Small stand-ins for the Graph API and the YouTube Data API, for the tests.

Each is a real HTTP server bound to 127.0.0.1 on a free port. It answers the endpoints the
connectors use the way the platforms do (paging, resumable uploads answered 308, error bodies with
their codes), records every request it receives, and can be told to fail in the ways the real
platforms and networks fail. They hold nothing on disk and never reach the internet.
"""
