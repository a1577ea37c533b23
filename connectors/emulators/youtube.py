"""Google's OAuth endpoints and the YouTube Data API endpoints the connector uses, as Google answers them."""

import itertools
import secrets
import threading
import time
from urllib.parse import urlencode

from connectors.emulators.server import Answer, EmulatorServer, Fault, Received


def api_error(status: int, reason: str, message: str, domain: str = "youtube.api"):
    return Answer(status, {"error": {"code": status, "message": message, "errors": [{"reason": reason, "domain": domain, "message": message}]}})


class YouTubeEmulator(EmulatorServer):
    """One channel, its videos and comment threads, the OAuth token endpoint, and resumable uploads.

    `revoke_refresh_token()` makes refreshing fail with invalid_grant; `expire_access_tokens()` makes
    the current access tokens answer 401, so the client must refresh; `token_outage = True` makes the
    token endpoint answer 503, as during an outage at Google. Quota is spent in Google's two buckets
    (`daily_uploads` videos.insert calls, `daily_units` for the rest) and answered 403 quotaExceeded
    when a bucket is empty; `quota_exceeded = True` empties both. `channel_verified = False` refuses
    custom thumbnails with 403 forbidden; `upload_limit_reached = True` refuses uploads with
    uploadLimitExceeded. A comment thread carries at most `inline_replies` of its replies.
    """

    # Units each call costs (YouTube Data API, "Quota calculator"); videos.insert costs one call of
    # its own bucket instead.
    COSTS = {("GET", "/youtube/v3/videos"): 1, ("DELETE", "/youtube/v3/videos"): 50, ("GET", "/youtube/v3/commentThreads"): 1,
             ("GET", "/youtube/v3/comments"): 1, ("GET", "/youtube/v3/channels"): 1, ("POST", "/upload/youtube/v3/thumbnails/set"): 50}

    def __init__(self, channel_id="UCaycliffe0000000000000", channel_title="Aycliffe Primary (private)"):
        super().__init__()
        self.channel_id, self.channel_title = channel_id, channel_title
        self.client_id, self.client_secret = "client-1.apps.googleusercontent.com", "client-secret-1"
        self.refresh_tokens = {"refresh-1"}
        self.access_tokens: set[str] = {"access-1"}
        self.codes: dict[str, str] = {}
        self.uploads: dict[str, dict] = {}
        self.videos: dict[str, dict] = {}
        self.thumbnails: dict[str, bytes] = {}
        self.threads: dict[str, list[dict]] = {}
        self.quota_exceeded = False
        self.daily_units, self.daily_uploads = 10_000, 100
        self.units_spent = self.uploads_spent = 0
        self.channel_verified = True
        self.upload_limit_reached = False
        self.token_outage = False
        self.inline_replies = 5
        self.processing_polls = 1
        self.interrupt_upload_at: int | None = None  # how many status reads say "processing" before "processed"
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    @property
    def auth_uri(self) -> str:
        return self.url + "o/oauth2/auth"

    def client_config(self) -> dict:
        """A Desktop OAuth client's secrets file, as Google's console gives it, aimed at this emulator."""
        return {"installed": {
            "client_id": self.client_id, "client_secret": self.client_secret, "auth_uri": self.auth_uri,
            "token_uri": self.token_uri, "redirect_uris": ["http://localhost"],
        }}

    def authorized_user_info(self) -> dict:
        return {"token": "access-1", "refresh_token": "refresh-1", "token_uri": self.token_uri,
                "client_id": self.client_id, "client_secret": self.client_secret,
                "scopes": ["https://www.googleapis.com/auth/youtube.force-ssl"]}

    def revoke_refresh_token(self):
        self.refresh_tokens.clear()
        self.access_tokens.clear()

    def expire_access_tokens(self):
        self.access_tokens.clear()

    def add_comment(self, video_id: str, text: str, author="A parent", reply_to: str | None = None) -> dict:
        comment_id = f"Ug{next(self._ids)}"
        snippet = {"videoId": video_id, "textDisplay": text, "textOriginal": text, "authorDisplayName": author,
                   "publishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        comment = {"kind": "youtube#comment", "id": comment_id, "snippet": snippet}
        threads = self.threads.setdefault(video_id, [])
        if reply_to:
            for thread in threads:
                if thread["id"] == reply_to:
                    snippet["parentId"] = reply_to
                    thread.setdefault("replies", {"comments": []})["comments"].append(comment)
                    thread["snippet"]["totalReplyCount"] += 1
            return comment
        threads.append({"kind": "youtube#commentThread", "id": comment_id,
                        "snippet": {"videoId": video_id, "topLevelComment": comment, "totalReplyCount": 0}})
        return comment

    # --- routing ---

    def route(self, request: Received, fault, handler):
        path = request.path
        if path == "/token":
            if self.token_outage:
                raise Answer(503, {"error": "server_error", "error_description": "The service is currently unavailable."})
            return self._token(self._client_in(request))
        if path == "/o/oauth2/auth":
            return self._authorise(request.query)
        self._check_bearer(request)
        if path == "/upload/youtube/v3/videos" and request.method == "POST":
            return self._start_upload(request)
        if path == "/upload/youtube/v3/videos" and request.method == "PUT":
            return self._upload_chunk(request, fault)
        cost = self.COSTS.get((request.method, path), 1)
        if self.quota_exceeded or self.units_spent + cost > self.daily_units:
            raise api_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.", "youtube.quota")
        self.units_spent += cost
        if path == "/upload/youtube/v3/thumbnails/set" and request.method == "POST":
            video_id = request.query.get("videoId", "")
            if video_id not in self.videos:
                raise api_error(404, "videoNotFound", "The video that you are trying to update cannot be found.")
            if not self.channel_verified:
                raise api_error(403, "forbidden", "The authenticated user doesn't have permissions to upload and set custom video thumbnails.", "youtube.thumbnail")
            self.thumbnails[video_id] = request.body
            return 200, {"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": f"{self.url}thumb/{video_id}.jpg"}}]}, {}
        if path == "/youtube/v3/videos" and request.method == "GET":
            return self._list_videos(request.query)
        if path == "/youtube/v3/videos" and request.method == "DELETE":
            if self.videos.pop(request.query.get("id", ""), None) is None:
                raise api_error(404, "videoNotFound", "The video that you are trying to delete cannot be found.")
            return 204, None, {}
        if path == "/youtube/v3/commentThreads" and request.method == "GET":
            return self._threads(request.query)
        if path == "/youtube/v3/comments" and request.method == "GET":
            return self._replies(request.query)
        if path == "/youtube/v3/channels" and request.method == "GET":
            return 200, {"kind": "youtube#channelListResponse", "items": [{"id": self.channel_id, "snippet": {"title": self.channel_title}}]}, {}
        raise api_error(404, "notFound", f"No such endpoint: {request.method} {path}")

    def _check_bearer(self, request: Received):
        auth = request.headers.get("authorization") or request.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
            raise Answer(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED",
                                         "errors": [{"reason": "authError", "domain": "global", "message": "Invalid Credentials"}]}},
                         {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})

    @staticmethod
    def _client_in(request: Received) -> dict:
        """The form, with the client's id and secret from HTTP Basic auth when sent that way (as Google allows)."""
        import base64
        from urllib.parse import unquote

        form = dict(request.form)
        auth = request.headers.get("Authorization") or request.headers.get("authorization") or ""
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            form.setdefault("client_id", unquote(client_id))
            form.setdefault("client_secret", unquote(secret))
        return form

    def _token(self, form):
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise Answer(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                raise Answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            refresh = form["refresh_token"]
        elif grant == "authorization_code":
            refresh = self.codes.pop(form.get("code", ""), None)
            if refresh is None:
                raise Answer(400, {"error": "invalid_grant", "error_description": "Malformed auth code."})
        else:
            raise Answer(400, {"error": "unsupported_grant_type"})
        access = "access-" + secrets.token_hex(8)
        self.access_tokens.add(access)
        answer = {"access_token": access, "expires_in": 3599, "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/youtube.force-ssl"}
        if grant == "authorization_code":
            answer["refresh_token"] = refresh
        return 200, answer, {}

    def _authorise(self, query):
        """The consent screen, already answered 'Allow': redirects back with a code."""
        if query.get("client_id") != self.client_id:
            raise Answer(400, "Error 401: invalid_client")
        code = "code-" + secrets.token_hex(6)
        refresh = "refresh-" + secrets.token_hex(6)
        self.refresh_tokens.add(refresh)
        self.codes[code] = refresh
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", ""), "scope": query.get("scope", "")})
        return 302, "", {"Location": location}

    def _start_upload(self, request: Received):
        if request.query.get("uploadType") != "resumable":
            raise api_error(400, "badRequest", "Only resumable uploads are accepted here.")
        if self.quota_exceeded or self.uploads_spent + 1 > self.daily_uploads:
            raise api_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.", "youtube.quota")
        self.uploads_spent += 1
        if self.upload_limit_reached:
            raise api_error(400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload.")
        metadata = request.json()
        snippet = metadata.get("snippet") or {}
        # snippet.title: "maximum length of 100 characters"; description "5000 bytes"; neither may
        # contain < or > (Videos resource).
        title, description = snippet.get("title") or "", snippet.get("description") or ""
        if not title or len(title) > 100 or "<" in title or ">" in title:
            raise api_error(400, "invalidTitle", "The request metadata specifies an invalid or empty video title.")
        if len(description.encode("utf-8")) > 5000 or "<" in description or ">" in description:
            raise api_error(400, "invalidDescription", "The request metadata specifies an invalid video description.")
        privacy = (metadata.get("status") or {}).get("privacyStatus")
        if privacy is None:
            privacy = "public"  # what YouTube does when privacyStatus is left out
        upload_id = f"up{next(self._ids)}"
        self.uploads[upload_id] = {
            "metadata": metadata, "privacy": privacy, "query": dict(request.query), "data": bytearray(),
            "size": int(request.headers.get("X-Upload-Content-Length") or 0),
            "content_type": request.headers.get("X-Upload-Content-Type", ""), "video_id": None,
        }
        location = f"{self.url}upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        return 200, {}, {"Location": location}

    def _upload_chunk(self, request: Received, fault):
        upload = self.uploads.get(request.query.get("upload_id", ""))
        if upload is None:
            raise api_error(404, "notFound", "The upload session does not exist or has expired.")
        content_range = request.headers.get("Content-Range") or request.headers.get("content-range") or ""
        have = len(upload["data"])
        if content_range.startswith("bytes */"):
            if upload["video_id"]:
                return 200, self.videos[upload["video_id"]], {}
            return 308, None, ({"Range": f"bytes=0-{have - 1}"} if have else {})
        start_end, total = content_range[len("bytes "):].split("/")
        start, end = (int(x) for x in start_end.split("-"))
        if start != have:
            raise api_error(400, "badContent", f"The chunk starts at byte {start}, but the server has {have} bytes.")
        upload["data"] += request.body
        upload["chunks"] = upload.get("chunks", []) + [(start, start + len(request.body) - 1)]
        have = len(upload["data"])
        if fault is not None and fault.action == "cut_after":
            return 308, None, {}  # the connection is dropped after this; the bytes that arrived are kept
        if total != "*" and have >= int(total):
            return 200, self._finish(upload), {}
        return 308, None, {"Range": f"bytes=0-{have - 1}"}

    def _finish(self, upload) -> dict:
        video_id = f"vid{next(self._ids):08d}"
        metadata = upload["metadata"]
        status = dict(metadata.get("status") or {})
        status.update({"privacyStatus": upload["privacy"], "uploadStatus": "uploaded"})
        video = {"kind": "youtube#video", "id": video_id, "snippet": metadata.get("snippet", {}), "status": status,
                 "bytes": len(upload["data"]), "polls": 0}
        self.videos[video_id] = video
        upload["video_id"] = video_id
        return {k: v for k, v in video.items() if k not in ("bytes", "polls")}

    def _list_videos(self, query):
        items = []
        for video_id in query.get("id", "").split(","):
            video = self.videos.get(video_id)
            if video is None:
                continue
            video["polls"] += 1
            processed = video["polls"] > self.processing_polls
            video["status"]["uploadStatus"] = "processed" if processed else "uploaded"
            items.append({"kind": "youtube#video", "id": video_id, "status": video["status"],
                          "processingDetails": {"processingStatus": "succeeded" if processed else "processing"}})
        return 200, {"kind": "youtube#videoListResponse", "items": items}, {}

    def _threads(self, query):
        threads = self.threads.get(query.get("videoId", ""), [])
        size = int(query.get("maxResults", 20))
        start = int(query.get("pageToken", "0") or 0)
        items = []
        for thread in threads[start:start + size]:
            replies = (thread.get("replies") or {}).get("comments", [])
            shown = {**thread, "replies": {"comments": replies[:self.inline_replies]}} if replies else thread
            items.append(shown)
        answer = {"kind": "youtube#commentThreadListResponse", "items": items}
        if start + size < len(threads):
            answer["nextPageToken"] = str(start + size)
        return 200, answer, {}

    def _replies(self, query):
        parent = query.get("parentId", "")
        replies = [reply for thread in self.threads.values() for t in thread if t["id"] == parent
                   for reply in (t.get("replies") or {}).get("comments", [])]
        size = int(query.get("maxResults", 20))
        start = int(query.get("pageToken", "0") or 0)
        answer = {"kind": "youtube#commentListResponse", "items": replies[start:start + size]}
        if start + size < len(replies):
            answer["nextPageToken"] = str(start + size)
        return 200, answer, {}

    def received_upload(self, video_id: str) -> bytes:
        for upload in self.uploads.values():
            if upload["video_id"] == video_id:
                return bytes(upload["data"])
        raise KeyError(video_id)

    def _fault_for(self, method, path, query, length):
        """An upload interrupted when the server holds `interrupt_upload_at` bytes: the rest of that
        chunk never arrives and the connection drops, as when a laptop's Wi-Fi goes."""
        upload = self.uploads.get(query.get("upload_id", ""))
        limit = self.interrupt_upload_at
        if method == "PUT" and upload is not None and limit is not None and len(upload["data"]) < limit < len(upload["data"]) + length:
            self.interrupt_upload_at = None
            return Fault("PUT", path, "cut_after", cut_after=limit - len(upload["data"]))
        return super()._fault_for(method, path, query, length)
