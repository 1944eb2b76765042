// agent-trace: OpenCode's sessions, live, to the agent-trace collector.
// Written by `agent-trace init --agent opencode`; `agent-trace uninstall --agent opencode` removes
// it (and init rewrites it: edits here do not last).
//
// OpenCode hands every plugin its event bus. This one keeps the messages of the running sessions
// as the bus describes them (the message Info, each Part as it changes, the session Info) and,
// when an assistant message completes and when a session goes idle, sends each changed message
// whole, with all its parts, to the collector's OTLP/HTTP logs endpoint (agent-trace reads them
// through the same mapping as OpenCode's database: sources/opencode_otel.py). It never throws
// into OpenCode and never waits on the network in an event: a send that fails is dropped (run
// `agent-trace import` to fill any gap from OpenCode's own store); on shutdown it waits at most
// a few seconds for sends still under way.

const CONFIG = /*agent-trace-config*/ {"endpoint": "http://127.0.0.1:4318/v1/logs", "token": null, "tier": 2, "timeoutMs": 5000} /*end*/

const MAX_BODY = 4 * 1024 * 1024

export const AgentTracePlugin = async () => {
  const sessions = new Map() // session id -> Info
  const messages = new Map() // message id -> {info, session, parts: Map(part id -> [part, first, last])}
  const changed = new Set() // message ids to send
  const finished = new Set() // messages already sent whole for a session that went idle
  const sending = new Set()

  const attr = (key, value) => ({ key, value: { stringValue: value } })

  const rootOf = (id) => {
    const seen = new Set([id])
    let current = id
    for (;;) {
      const parent = sessions.get(current)?.parentID
      if (!parent || seen.has(parent)) return current
      seen.add(parent)
      current = parent
    }
  }

  const chain = (id) => {
    const out = []
    const seen = new Set()
    for (let current = id; current && !seen.has(current); current = sessions.get(current)?.parentID) {
      seen.add(current)
      if (sessions.has(current)) out.push(sessions.get(current))
    }
    return out
  }

  // What the model said (an assistant's text and reasoning parts) travels apart, in an attribute
  // the collector keeps in its raw events only at tier 3; below the configured tier the texts
  // stay on this machine (prompts below 2, responses below 3).
  const isResponse = (info, part) => info.role === "assistant" && (part.type === "text" || part.type === "reasoning")
  const scrub = (info, part) => {
    const allowed = isResponse(info, part) ? CONFIG.tier >= 3 : CONFIG.tier >= 2
    if (allowed || (part.type !== "text" && part.type !== "reasoning")) return part
    const { text, ...rest } = part
    return rest
  }

  const entry = (id, session) => {
    let found = messages.get(id)
    if (!found) {
      found = { info: null, session, parts: new Map() }
      messages.set(id, found)
    }
    return found
  }

  const post = (root, records) => {
    const body = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [attr("service.name", "opencode"), attr("session.id", root)] },
          scopeLogs: [{ scope: { name: "agent-trace.opencode" }, logRecords: records }],
        },
      ],
    })
    const headers = { "content-type": "application/json" }
    if (CONFIG.token) headers.authorization = "Bearer " + CONFIG.token
    const sent = fetch(CONFIG.endpoint, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(CONFIG.timeoutMs),
    })
      .then((response) => response.arrayBuffer())
      .catch(() => undefined)
      .finally(() => sending.delete(sent))
    sending.add(sent)
  }

  const flush = () => {
    const byRoot = new Map()
    for (const id of [...changed]) {
      const message = messages.get(id)
      if (!message || !message.info) continue // its Info has not come yet: sent with it
      changed.delete(id)
      const root = rootOf(message.session)
      const parts = []
      const responses = []
      for (const [part, first, last] of message.parts.values()) {
        const item = { part: scrub(message.info, part), first, last }
        ;(isResponse(message.info, part) ? responses : parts).push(item)
      }
      const record = {
        timeUnixNano: String(message.info.time?.created ?? Date.now()) + "000000",
        attributes: [
          attr("event.name", "opencode.message"),
          attr("session.id", root),
          attr("opencode.sessions", JSON.stringify(chain(message.session))),
          attr("opencode.message", JSON.stringify(message.info)),
          attr("opencode.parts", JSON.stringify(parts)),
          attr("opencode.response_parts", JSON.stringify(responses)),
        ],
      }
      const size = record.attributes.reduce((n, a) => n + a.value.stringValue.length, 200)
      const batch = byRoot.get(root) ?? { records: [], size: 0 }
      if (batch.records.length && batch.size + size > MAX_BODY) {
        post(root, batch.records)
        batch.records = []
        batch.size = 0
      }
      batch.records.push(record)
      batch.size += size
      byRoot.set(root, batch)
    }
    for (const [root, batch] of byRoot) post(root, batch.records)
  }

  const idle = (sessionID) => {
    flush()
    // Sent whole: forget the session's messages (a late update of one is not a new fact).
    for (const [id, message] of messages) {
      if (message.session === sessionID && !changed.has(id)) {
        messages.delete(id)
        finished.add(id)
      }
    }
  }

  const take = (event) => {
    const props = event.properties ?? {}
    if (event.type === "session.created" || event.type === "session.updated") {
      if (props.info?.id) sessions.set(props.info.id, props.info)
    } else if (event.type === "message.updated") {
      const info = props.info
      if (!info?.id || finished.has(info.id)) return
      entry(info.id, info.sessionID).info = info
      changed.add(info.id)
      if (info.role === "assistant" && info.time?.completed) flush()
    } else if (event.type === "message.part.updated") {
      const part = props.part
      if (!part?.id || !part.messageID || finished.has(part.messageID)) return
      const now = typeof props.time === "number" ? props.time : Date.now()
      const message = entry(part.messageID, part.sessionID)
      const first = message.parts.get(part.id)?.[1] ?? now
      message.parts.set(part.id, [part, first, now])
      changed.add(part.messageID)
    } else if (event.type === "session.idle") {
      idle(props.sessionID)
    }
  }

  return {
    event: async ({ event }) => {
      try {
        take(event)
      } catch {
        // never into OpenCode
      }
    },
    dispose: async () => {
      try {
        flush()
        let timer
        const deadline = new Promise((resolve) => {
          timer = setTimeout(resolve, CONFIG.timeoutMs)
        })
        await Promise.race([Promise.allSettled([...sending]), deadline])
        clearTimeout(timer) // a pending timer would hold OpenCode's exit
      } catch {
        // never into OpenCode
      }
    },
  }
}
