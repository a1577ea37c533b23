"""The Graph API endpoints a Facebook Page connector uses, as Facebook answers them."""

import itertools
import json
import re
import threading
import time
from urllib.parse import urlencode

from connectors.emulators.server import Answer, EmulatorServer, Received

BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def graph_error(status: int, code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException"):
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGh"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Answer(status, {"error": error})


class GraphEmulator(EmulatorServer):
    """A Page, its tokens, posts, photos, videos and comments.

    `revoke(token, subcode)` makes a token fail with error 190 from then on; `fail(...)` (from the
    base) injects any other failure. Times are real seconds since the epoch, as Graph uses. Posts
    in `undeletable` are refused deletion with the same words Graph uses for a post that is gone.
    `paging.next` addresses carry no access token, as in Meta's documented examples, unless
    `next_carries_token` is set.
    """

    def __init__(self, page_id="1122334455", page_name="Aycliffe Community Primary School"):
        super().__init__()
        self.page_id, self.page_name = page_id, page_name
        self.app_id, self.app_secret = "app-1", "app-secret-1"
        self.short_user_tokens = {"short-user-token"}
        self.user_tokens: set[str] = {"user-token"}  # a long-lived token of a person with a role on the app
        self.page_tokens: set[str] = {"page-token"}
        self.revoked: dict[str, int] = {}
        self.objects: dict[str, dict] = {}  # every post, photo and video by id
        self.comments: dict[str, list[dict]] = {}
        self.undeletable: set[str] = set()
        self.video_bytes: dict[str, bytes] = {}  # what each video received, for the tests
        self.upload_sessions: dict[str, dict] = {}  # Resumable Upload API sessions, by "upload:<id>"
        self.handles: dict[str, str] = {}  # uploaded file handle -> session
        self.next_carries_token = False
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()

    # --- test helpers ---

    def new_id(self, prefix="") -> str:
        with self._lock:
            return f"{prefix}{next(self._ids)}"

    def revoke(self, token: str, subcode: int = 460):
        self.revoked[token] = subcode

    def posts(self, *, published: bool | None = None) -> list[dict]:
        return [
            o for o in self.objects.values()
            if o["type"] in ("post", "video") and (published is None or o["is_published"] == published)
        ]

    def add_comment(self, post_id: str, message: str, author="A parent", created_time=None, parent=None) -> dict:
        comment = {
            "id": f"{post_id}_{self.new_id()}", "message": message, "from": {"name": author, "id": self.new_id("u")},
            "created_time": created_time or time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
        }
        if parent:
            comment["parent"] = {"id": parent}
        self.comments.setdefault(post_id, []).append(comment)
        return comment

    # --- routing ---

    def route(self, request: Received, fault, handler):
        match = re.fullmatch(r"/v\d+\.\d+/(.+?)/?", request.path)
        if not match:
            raise graph_error(400, 2500, "Unknown path components: " + request.path)
        parts = match.group(1).split("/")
        args = {**request.query, **request.form}
        if parts == ["oauth", "access_token"]:
            return self._exchange(args)
        if len(parts) == 1 and parts[0].startswith("upload:"):
            return self._upload_bytes(parts[0], request, fault)
        token = args.get("access_token", "")
        self._check_token(token)
        method = request.method
        if len(parts) == 1:
            if method == "GET":
                return self._get_object(parts[0], token, args)
            if method == "DELETE":
                return self._delete(parts[0], token)
        if len(parts) == 2:
            node, edge = parts
            if node == self.app_id and edge == "uploads" and method == "POST":
                return self._start_upload(token, args)
            if node == "me" and edge == "accounts":
                return 200, {"data": [{"id": self.page_id, "name": self.page_name, "access_token": self._page_token_for(token)}]}, {}
            if node == self.page_id and token in self.page_tokens:
                if method == "POST" and edge == "feed":
                    return self._feed(args)
                if method == "POST" and edge == "photos":
                    return self._photo(args, request.files)
                if method == "POST" and edge == "videos":
                    return self._video(args, request.files)
                if method == "GET" and edge in ("feed", "published_posts", "scheduled_posts", "videos"):
                    return self._list(edge, args, request)
            if method == "GET" and edge == "comments" and node in self.objects:
                return self._comments(node, args, request)
        raise graph_error(400, 100, f"Unsupported {method} request. Object with ID '{parts[0]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation", kind="GraphMethodException", subcode=33)

    def _check_token(self, token: str):
        if not token:
            raise graph_error(400, 104, "An access token is required to request this resource.")
        if token in self.revoked:
            raise graph_error(400, 190, "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.", subcode=self.revoked[token])
        if token not in self.page_tokens | self.user_tokens:
            raise graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _page_token_for(self, user_token: str) -> str:
        token = "page-token-from-" + user_token
        self.page_tokens.add(token)
        return token

    def _exchange(self, args):
        if args.get("grant_type") != "fb_exchange_token":
            raise graph_error(400, 100, "Unsupported grant_type")
        if args.get("client_id") != self.app_id or args.get("client_secret") != self.app_secret:
            raise graph_error(400, 101, "Error validating application. Invalid application ID or secret.")
        short = args.get("fb_exchange_token", "")
        if short not in self.short_user_tokens:
            raise graph_error(400, 190, "Error validating access token: Session has expired.", subcode=463)
        long_lived = "long-" + short
        self.user_tokens.add(long_lived)
        return 200, {"access_token": long_lived, "token_type": "bearer", "expires_in": 5183944}, {}

    def _get_object(self, object_id, token, args):
        if object_id == self.page_id:
            answer = {"id": self.page_id, "name": self.page_name}
            if "access_token" in args.get("fields", "").split(","):
                if token not in self.user_tokens:
                    raise graph_error(400, 190, "A user access token is required to read a Page's access token.")
                answer["access_token"] = self._page_token_for(token)
            return 200, answer, {}
        if object_id in self.objects:
            return 200, self._public(self.objects[object_id]), {}
        raise self._cannot_be_loaded("GET", object_id)

    @staticmethod
    def _cannot_be_loaded(method: str, object_id: str) -> Answer:
        return graph_error(400, 100, f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                           kind="GraphMethodException", subcode=33)

    @staticmethod
    def _public(obj: dict) -> dict:
        return {k: v for k, v in obj.items() if k not in ("type", "source_bytes")}

    def _boolean(self, args, name, default=True) -> bool:
        if name not in args:
            return default
        value = args[name]
        if value not in BOOLEANS:
            raise graph_error(400, 100, f"(#100) Param {name} must be a boolean: got '{value}'")
        return BOOLEANS[value]

    def _schedule(self, args, published: bool) -> int | None:
        if "scheduled_publish_time" not in args:
            return None
        if published:
            raise graph_error(400, 100, "(#100) You cannot specify a scheduled publish time on a published post")
        when = int(args["scheduled_publish_time"])
        ahead = when - time.time()
        if ahead < 10 * 60 or ahead > 30 * 24 * 3600:
            raise graph_error(400, 100, "(#100) The specified scheduled publish time is invalid.")
        return when

    def _created(self, kind: str, fields: dict) -> dict:
        obj = {"type": kind, "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()), "created_ts": time.time(), **fields}
        self.objects[obj["id"]] = obj
        return obj

    def _feed(self, args):
        if "attached_media" in args:
            raise graph_error(400, 100, "(#100) param attached_media must be an array.")
        media = []
        for index in itertools.count():
            key = f"attached_media[{index}]"
            if key not in args:
                break
            try:
                fbid = json.loads(args[key])["media_fbid"]
            except (ValueError, KeyError, TypeError):
                raise graph_error(400, 100, f"(#100) {key} must be a JSON object with media_fbid") from None
            photo = self.objects.get(str(fbid))
            if not photo or photo["type"] != "photo" or photo["is_published"]:
                raise graph_error(400, 100, f"(#100) media_fbid {fbid} is not an unpublished photo of this Page")
            media.append(str(fbid))
        message, link = args.get("message", ""), args.get("link", "")
        if not (message or link or media):
            raise graph_error(400, 100, "(#100) The post is empty.")
        published = self._boolean(args, "published")
        scheduled = self._schedule(args, published)
        for other in self.posts():
            if message and other["type"] == "post" and other.get("message") == message and not media and not other["attached"]:
                raise graph_error(400, 506, "Duplicate status message", kind="OAuthException")
        post = self._created("post", {
            "id": f"{self.page_id}_{self.new_id()}", "message": message, "link": link, "attached": media,
            "is_published": published, "scheduled_publish_time": scheduled,
        })
        for fbid in media:
            self.objects[fbid]["attached_to"] = post["id"]
        return 200, {"id": post["id"]}, {}

    def _photo(self, args, files):
        if "source" not in files and "url" not in args:
            raise graph_error(400, 324, "(#324) Requires upload file")
        published = self._boolean(args, "published")
        photo = self._created("photo", {
            "id": self.new_id(), "caption": args.get("caption", ""), "alt_text_custom": args.get("alt_text_custom", ""),
            "is_published": published, "source_bytes": len(files.get("source", b"")),
        })
        answer = {"id": photo["id"]}
        if published:
            post = self._created("post", {"id": f"{self.page_id}_{self.new_id()}", "message": photo["caption"], "link": "", "attached": [photo["id"]], "is_published": True, "scheduled_publish_time": None})
            answer["post_id"] = post["id"]
        return 200, answer, {}

    def _video(self, args, files):
        handle = args.get("fbuploader_video_file_chunk")
        if handle is not None:
            session = self.upload_sessions.get(self.handles.get(handle, ""))
            if session is None:
                raise graph_error(400, 100, "(#100) Invalid parameter: fbuploader_video_file_chunk is not a handle of a finished upload")
            data = bytes(session["data"])
        elif "source" in files:
            data = files["source"]
        else:
            raise graph_error(400, 390, "There was a problem uploading your video file. Please try again.")
        published = self._boolean(args, "published")
        scheduled = self._schedule(args, published)
        video = self._created("video", {
            "id": self.new_id(), "description": args.get("description", ""), "title": args.get("title", ""),
            "is_published": published, "scheduled_publish_time": scheduled, "source_bytes": len(data),
            "handle": handle or "",
        })
        self.video_bytes[video["id"]] = data
        return 200, {"id": video["id"]}, {}

    # --- the Resumable Upload API (Graph API, "Upload a file": /{app-id}/uploads, then /upload:<id>) ---

    def _start_upload(self, token, args):
        if token not in self.user_tokens:
            raise graph_error(400, 190, "(#190) A user access token of a person with a role on the app is required to upload.")
        try:
            length = int(args["file_length"])
        except (KeyError, ValueError):
            raise graph_error(400, 100, "(#100) The parameter file_length is required") from None
        if args.get("file_type") not in ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"):
            raise graph_error(400, 100, "(#100) file_type must be one of application/pdf, image/jpeg, image/jpg, image/png, video/mp4")
        session = f"upload:{self.new_id('MTp')}"
        self.upload_sessions[session] = {"name": args.get("file_name", ""), "length": length, "data": bytearray(), "token": token}
        return 200, {"id": session}, {}

    def _upload_bytes(self, session_id, request, fault):
        session = self.upload_sessions.get(session_id)
        auth = request.headers.get("Authorization") or request.headers.get("authorization") or ""
        if session is None:
            raise graph_error(400, 100, f"Object with ID '{session_id}' does not exist", kind="GraphMethodException", subcode=33)
        if not auth.startswith("OAuth ") or auth[6:] != session["token"]:
            raise graph_error(400, 190, "(#190) The access token must be sent in the Authorization header (OAuth <token>).")
        if request.method == "GET":
            return 200, {"id": session_id, "file_offset": len(session["data"])}, {}
        offset = int(request.headers.get("file_offset") or request.headers.get("File-Offset") or -1)
        if offset != len(session["data"]):
            raise graph_error(400, 100, f"(#100) file_offset {offset} does not match the {len(session['data'])} bytes received")
        session["data"] += request.body
        if fault is not None and fault.action == "cut_after":
            return 200, {}, {}  # the connection drops; the bytes that arrived are kept
        if len(session["data"]) < session["length"]:
            return 200, {"id": session_id, "file_offset": len(session["data"])}, {}
        handle = f"2:{self.new_id('aGFuZGxl')}"
        self.handles[handle] = session_id
        return 200, {"h": handle}, {}

    def _list(self, edge, args, request):
        if edge == "videos":
            items = [o for o in self.objects.values() if o["type"] == "video"]
        elif edge == "scheduled_posts":
            items = [o for o in self.posts() if not o["is_published"] and o.get("scheduled_publish_time")]
        else:
            items = [o for o in self.posts(published=True) if o["type"] == "post"]
        items.sort(key=lambda o: o["created_ts"], reverse=True)
        return self._page_of([self._public(o) for o in items], args, request)

    def _comments(self, object_id, args, request):
        return self._page_of(list(self.comments.get(object_id, [])), args, request)

    def _page_of(self, items, args, request):
        """Cursor paging as Graph does it: `paging.next` is a full URL that carries the access token."""
        limit = int(args.get("limit", 25))
        start = int(args.get("after", 0) or 0)
        page = items[start:start + limit]
        answer = {"data": page, "paging": {"cursors": {"before": str(start), "after": str(start + len(page))}}}
        if start + limit < len(items):
            query = {k: v for k, v in args.items() if k != "after" and (self.next_carries_token or k != "access_token")}
            query["after"] = str(start + limit)
            answer["paging"]["next"] = f"{self.url.rstrip('/')}{request.path}?{urlencode(query)}"
        return 200, answer, {}

    def _delete(self, object_id, token):
        obj = self.objects.get(object_id)
        if obj is None or token not in self.page_tokens or object_id in self.undeletable:
            raise self._cannot_be_loaded("DELETE", object_id)
        del self.objects[object_id]
        return 200, {"success": True}, {}
