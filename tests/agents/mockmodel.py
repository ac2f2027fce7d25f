#!/usr/bin/env python3
"""A scripted "model" for driving real agent CLIs in tests (Python 3 stdlib only).

    mockmodel.py --script SCRIPT.json --record RECORD.json --port-file PORT [--log-dir DIR]

SCRIPT.json: {"commands": [CMD, ...], "final": "TEXT", "finish_command": "CMD" (optional)}
    where each CMD is a string, or {"cmd": "CMD", "wait": "FILE"}: the answer that asks for it
    is held until FILE exists (a test does something between two turns, then creates FILE).

Every request is answered from the conversation it carries: with N tool results in it, the
model asks for commands[N] through the agent's shell tool; once every command has its result it
asks for finish_command if there is one (mini-swe-agent ends on a command), else it answers
with the final text and stops. Requests without a shell tool (titles, quota probes, JSON side
questions) get a short text answer. Because the turn is read from the conversation, retries and
side requests never advance the script.

RECORD.json, rewritten after every request: {"results": [...], "calls": [...], "requests": N,
"tool": {...}} -- results are the tool results (what the agent sent back as the output of each
command, as text) of the longest conversation seen, in order; calls the commands asked for.

APIs: Anthropic Messages (SSE and plain), Gemini generateContent / streamGenerateContent (SSE),
OpenAI Responses (SSE), OpenAI chat completions (SSE and plain). Listens on 127.0.0.1 only,
on a free port written to PORT (after the socket is bound).
"""

import argparse
import gzip
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Shell tools the agents offer, in order of preference.
SHELL_TOOLS = ["Bash", "run_shell_command", "exec_command", "shell", "shell_command", "bash"]


class Script:
    """The script, the record, and the turn logic every API shares."""

    def __init__(self, script_path, record_path, log_dir):
        with open(script_path) as f:
            s = json.load(f)
        self.commands = s["commands"]
        self.final = s.get("final", "DONE")
        self.finish_command = s.get("finish_command")
        self.record_path = record_path
        self.log_dir = log_dir
        self.lock = threading.Lock()
        self.record = {"results": [], "calls": [], "requests": 0, "tool": None}
        self.seq = 0
        self.save()

    def save(self):
        tmp = self.record_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.record, f, indent=1)
        os.replace(tmp, self.record_path)

    def log(self, path, body, answer):
        with self.lock:
            self.seq += 1
            seq = self.seq
        if self.log_dir:
            with open(os.path.join(self.log_dir, "%03d.json" % seq), "w") as f:
                json.dump({"path": path, "request": body, "answer": answer}, f, indent=1)

    def next_action(self, results, tool):
        """("call", CMD) or ("text", TEXT) for a conversation with these tool results."""
        with self.lock:
            self.record["requests"] += 1
            if tool is None:
                self.save()
                return ("text", "ok")
            self.record["tool"] = tool
            if len(results) >= len(self.record["results"]):
                self.record["results"] = results
            n = len(results)
            if n < len(self.commands):
                action = ("call", self.commands[n])
            elif self.finish_command and n == len(self.commands):
                action = ("call", self.finish_command)
            else:
                action = ("text", self.final)
            wait = None
            if action[0] == "call" and isinstance(action[1], dict):
                wait = action[1].get("wait")
                action = ("call", action[1]["cmd"])
            if action[0] == "call":
                self.record["calls"].append(action[1])
            self.save()
        # Outside the lock: other requests go on being answered meanwhile.
        deadline = time.monotonic() + 300
        while wait and not os.path.exists(wait) and time.monotonic() < deadline:
            time.sleep(0.05)
        return action


def pick_tool(tools):
    """The agent's shell tool among (name, json schema) pairs: {"name", "schema"} or None."""
    by_name = {name: schema for name, schema in tools}
    for name in SHELL_TOOLS:
        if name in by_name:
            return {"name": name, "schema": by_name[name] or {}}
    return None


def tool_args(tool, command):
    """The arguments of a call of `tool` that runs `command`, shaped by the tool's schema."""
    schema = tool["schema"]
    props = schema.get("properties") or {}
    args = {}
    if "command" in props:
        if props["command"].get("type") == "array":
            args["command"] = ["bash", "-lc", command]
        else:
            args["command"] = command
    elif "cmd" in props:
        args["cmd"] = command
    else:
        args["command"] = command
    for req in schema.get("required") or []:
        if req not in args and req == "description":
            args["description"] = "Run a shell command"
    return args


def text_of(content):
    """Text out of the many shapes a tool result takes."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(text_of(c) for c in content)
    if isinstance(content, dict):
        if "text" in content and isinstance(content["text"], str):
            return content["text"]
        if set(content) == {"output"} and isinstance(content["output"], str):
            return content["output"]
        return json.dumps(content, sort_keys=True)
    return str(content)


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:20]


# -------------------------------------------------------------------------------------------
# One small adapter per API: read the conversation, write the answer.


def anthropic(h, body):
    if h.path.split("?")[0].endswith("/count_tokens"):
        return h.send_json({"input_tokens": 100})
    results = []
    for m in body.get("messages", []):
        if isinstance(m.get("content"), list):
            for c in m["content"]:
                if c.get("type") == "tool_result":
                    results.append(text_of(c.get("content")))
    tool = pick_tool([(t.get("name"), t.get("input_schema")) for t in body.get("tools") or []])
    kind, value = h.script.next_action(results, tool)
    model = body.get("model", "mock")
    if kind == "call":
        block = {"type": "tool_use", "id": new_id("toolu_"), "name": tool["name"], "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(tool_args(tool, value))}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": value}
        stop = "end_turn"
    usage = {"input_tokens": 100, "output_tokens": 10}
    msg = {"id": new_id("msg_"), "type": "message", "role": "assistant", "model": model,
           "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
    if not body.get("stream"):
        full = dict(block)
        if kind == "call":
            full["input"] = tool_args(tool, value)
        else:
            full["text"] = value
        return h.send_json(dict(msg, content=[full], stop_reason=stop))
    h.send_sse([
        ("message_start", {"type": "message_start", "message": msg}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 10}}),
        ("message_stop", {"type": "message_stop"}),
    ])


def gemini(h, body):
    path = h.path.split("?")[0]
    if path.endswith(":countTokens"):
        return h.send_json({"totalTokens": 100})
    if path.endswith(":embedContent") or path.endswith(":batchEmbedContents"):
        return h.send_json({"embedding": {"values": [0.0]}})
    results = []
    for c in body.get("contents", []):
        for p in c.get("parts") or []:
            if "functionResponse" in p:
                results.append(text_of(p["functionResponse"].get("response")))
    decls = []
    for t in body.get("tools") or []:
        for d in t.get("functionDeclarations") or []:
            decls.append((d.get("name"), d.get("parametersJsonSchema") or d.get("parameters")))
    tool = pick_tool(decls)
    kind, value = h.script.next_action(results, tool)
    if kind == "call":
        part = {"functionCall": {"name": tool["name"], "args": tool_args(tool, value)}}
    elif (body.get("generationConfig") or {}).get("responseMimeType") == "application/json":
        # Side questions (next speaker, model routing): one object that answers them all.
        part = {"text": json.dumps({"reasoning": "mock", "next_speaker": "user",
                                    "model_choice": "flash", "complexity_score": 1,
                                    "complexity_reasoning": "mock"})}
    else:
        part = {"text": value}
    chunk = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP",
                             "index": 0}],
             "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 10,
                               "totalTokenCount": 110},
             "modelVersion": "mock"}
    if path.endswith(":streamGenerateContent"):
        return h.send_sse([(None, chunk)])
    h.send_json(chunk)


def responses(h, body):
    results = []
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output",
                                                            "local_shell_call_output"):
            results.append(text_of(item.get("output")))
    tools = []
    for t in body.get("tools") or []:
        if t.get("type") == "function":
            tools.append((t.get("name"), t.get("parameters")))
    tool = pick_tool(tools)
    kind, value = h.script.next_action(results, tool)
    rid = new_id("resp_")
    if kind == "call":
        item = {"type": "function_call", "id": new_id("fc_"), "call_id": new_id("call_"),
                "name": tool["name"], "arguments": json.dumps(tool_args(tool, value))}
    else:
        item = {"type": "message", "role": "assistant", "id": new_id("msg_"),
                "content": [{"type": "output_text", "text": value, "annotations": []}]}
    usage = {"input_tokens": 100, "input_tokens_details": None, "output_tokens": 10,
             "output_tokens_details": None, "total_tokens": 110}
    events = [("response.created", {"type": "response.created", "response": {"id": rid}})]
    if kind == "text":
        events += [
            ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                            "item": dict(item, content=[])}),
            ("response.output_text.delta", {"type": "response.output_text.delta", "output_index": 0,
                                            "item_id": item["id"], "content_index": 0, "delta": value}),
        ]
    events += [
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "response": {"id": rid, "usage": usage}}),
    ]
    h.send_sse(events)


def chat(h, body):
    results = []
    for m in body.get("messages", []):
        if m.get("role") == "tool":
            results.append(text_of(m.get("content")))
    tools = [((t.get("function") or {}).get("name"), (t.get("function") or {}).get("parameters"))
             for t in body.get("tools") or []]
    tool = pick_tool(tools)
    kind, value = h.script.next_action(results, tool)
    cid, model = new_id("chatcmpl-"), body.get("model", "mock")
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    if kind == "call":
        call = {"id": new_id("call_"), "type": "function",
                "function": {"name": tool["name"], "arguments": json.dumps(tool_args(tool, value))}}
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": value}, "stop"
    base = {"id": cid, "model": model, "created": 1700000000}
    if not body.get("stream"):
        return h.send_json(dict(base, object="chat.completion", usage=usage,
                                choices=[{"index": 0, "message": message, "finish_reason": finish}]))
    if kind == "call":
        delta = {"role": "assistant", "content": None,
                 "tool_calls": [dict(message["tool_calls"][0], index=0)]}
    else:
        delta = {"role": "assistant", "content": value}
    chunk = dict(base, object="chat.completion.chunk")
    h.send_sse([
        (None, dict(chunk, choices=[{"index": 0, "delta": delta, "finish_reason": None}])),
        (None, dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": finish}])),
        (None, dict(chunk, choices=[], usage=usage)),
    ], done=True)


ROUTES = [
    (re.compile(r"/v1/messages(/count_tokens)?$"), anthropic),
    (re.compile(r"/models/[^/]+:(stream)?[gG]enerateContent$|:countTokens$|:embedContent$"), gemini),
    (re.compile(r"/responses$"), responses),
    (re.compile(r"/chat/completions$"), chat),
]


class Handler(BaseHTTPRequestHandler):
    script = None

    def log_message(self, fmt, *args):
        pass

    def send_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.answer = obj
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events, done=False):
        self.answer = events
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        out = []
        for name, data in events:
            if name:
                out.append("event: %s\n" % name)
            out.append("data: %s\n\n" % json.dumps(data))
        if done:
            out.append("data: [DONE]\n\n")
        self.wfile.write("".join(out).encode())
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        path = self.path.split("?")[0]
        self.answer = None
        if path.endswith("/models"):
            # Model lists: OpenAI's shape, plus Codex's ("models": []) and Gemini's.
            self.send_json({"object": "list", "data": [{"id": "mock", "object": "model"}], "models": []})
        else:
            self.send_json({}, status=404)
        self.script.log(self.path, None, self.answer)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        path = self.path.split("?")[0]
        self.answer = None
        for pattern, handler in ROUTES:
            if pattern.search(path):
                handler(self, body)
                break
        else:
            self.send_json({"error": {"message": "mock: no route for " + path}}, status=404)
        self.script.log(self.path, body, self.answer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log-dir")
    a = ap.parse_args()
    if a.log_dir:
        os.makedirs(a.log_dir, exist_ok=True)
    Handler.script = Script(a.script, a.record, a.log_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
