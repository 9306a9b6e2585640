// Package discordtest is a strict fake Discord for tests: the REST API
// (v9 and v10 paths) and the websocket gateway on 127.0.0.1, driven by the
// real discordgo client.
//
// Point discordgo at it by giving the session a client whose transport
// rewrites the host (discordgo's Endpoint* globals are fixed at init):
//
//	fake := discordtest.New(t, discordtest.Options{HeartbeatInterval: 50 * time.Millisecond})
//	dg, _ := discordgo.New("Bot " + fake.Token())
//	dg.Client = fake.Client() // or &http.Client{Transport: fake.Transport(nil)}
//	dg.ShouldReconnectOnError = false
//	dg.SyncEvents = true
//	err := dg.Open() // GET /api/v9/gateway, then ws://127.0.0.1:PORT/?v=9&encoding=json
//
// The gateway sends HELLO, answers IDENTIFY with READY (then GUILD_CREATE
// per known guild), ACKs heartbeats, replays missed events on RESUME and
// answers op 9 to a RESUME it cannot honour. Tests inject traffic with
// SendDM, SendGuildMessage, Post, SendInteraction, SendAutocomplete and
// SendComponent, break the connection with Disconnect, DropConnection,
// RequestReconnect, InvalidateSession and ExpireSessions, and redeliver
// with Resend.
//
// REST answers like Discord: error bodies {"message","code"} with
// Discord's codes (10003 Unknown Channel, 10008 Unknown Message, 10062
// Unknown interaction, 40060 already acknowledged, 50005, 50006, 50035
// Invalid Form Body with an "errors" tree...), 429 with retry_after in
// float seconds and the X-RateLimit-* headers, token buckets per channel,
// per interaction token and global (Options), and one-off faults with
// FailNext. Every request is recorded (Calls, CallsTo); EarlyCalls lists
// the ones that ignored an announced retry_after.
//
// # Deviations from the real Discord
//
// Routes
//
//   - Implemented: GET /gateway, /gateway/bot, /users/@me, /users/{id},
//     /oauth2/applications/@me;
//     POST /users/@me/channels; GET /channels/{id}; POST, GET, PATCH,
//     DELETE of channel messages; POST typing; thread creation from a
//     message and without one; GET and PUT (bulk overwrite) of global and
//     guild commands; the interaction callback; GET, PATCH, DELETE of
//     @original and followups; POST followups. Anything else answers 404
//     {"message": "404: Not Found", "code": 0}, a known path with another
//     method 405. Other API versions than 9 and 10 answer 404.
//   - GET /gateway needs no token, as on Discord; interaction and webhook
//     routes ignore the Authorization header (their token is in the path).
//     Every other route needs "Authorization: Bot <token>", else 401.
//   - Permissions are not modelled: the bot may post, edit its own
//     messages and start threads everywhere it knows. Deleting another
//     user's message is refused (50003 in DMs, 50013 in guilds). Unknown
//     channels are 10003 whatever the cause.
//   - POST /users/@me/channels accepts any snowflake as recipient;
//     GET /users/{id} knows only users the fake has seen (else 10013).
//   - Attachment URLs point at cdn.discordapp.com and are not served.
//
// Messages
//
//   - Content is limited to 2000 Unicode code points; whitespace-only
//     content counts as empty (50006). Embeds: at most 10, title 256,
//     description 4096 characters; the 6000-character total is not checked.
//   - Flags a request may not set are dropped silently (EPHEMERAL on a
//     channel message, anything but EPHEMERAL on a deferred response).
//     Edits may only toggle SUPPRESS_EMBEDS.
//   - allowed_mentions is validated (parse values, parse/users and
//     parse/roles exclusivity, 100 IDs) and applied to compute Mentions,
//     MentionRoles and MentionsEveryone. Defaults follow the docs: all
//     types for channel messages, users only for interaction responses and
//     followups; replies ping the replied author unless allowed_mentions
//     says otherwise. Mentions inside code blocks count (Discord's exact
//     rules are not public), and any syntactically valid ID counts, known
//     user or not: "nobody was pinged" assertions err on the safe side.
//     The bot's permission to ping @everyone or roles is not checked.
//   - The bot's own messages are echoed on the gateway (MESSAGE_CREATE,
//     MESSAGE_UPDATE, MESSAGE_DELETE) like Discord does, unless
//     Options.NoEcho. Ephemeral messages are never dispatched and cannot be
//     read or edited through channel routes.
//   - No "message not modified" error exists on Discord, and none here: an
//     edit that changes nothing succeeds and counts in Edits.
//   - message_reference must name a message of the same channel (else
//     50035), unless fail_if_not_exists is false.
//   - The 30046 cap on edits of messages older than an hour, nonce
//     enforcement, stickers, polls and components are not validated
//     (components and embeds are stored and echoed as sent).
//
// Commands
//
//   - Bulk overwrite validates names (the documented regex, lower case for
//     CHAT_INPUT), descriptions (1-100), at most 100 CHAT_INPUT and 15
//     USER/MESSAGE commands (30032), options (25 per level, unique names,
//     required before optional, subcommand nesting, choices 25 and only on
//     string/integer/number, autocomplete not with choices, min/max
//     length) and the 8000-character size. Errors are 50035 with Discord's
//     path layout ("0.options.1.name"); the inner error codes and messages
//     are best effort, so assert on the path, not the inner code.
//     Descriptions of USER and MESSAGE commands are cleared, not refused.
//   - Commands keep their IDs across overwrites when type and name match.
//     SendInteraction uses the registered command's ID but does not check
//     that the command or its options exist.
//
// Interactions
//
//   - A callback must arrive within InteractionDeadline (3 s) of the
//     INTERACTION_CREATE being written to a connection, else 10062; a
//     second one is 40060, even after the deadline. Callback types are
//     checked per interaction type (commands 4, 5, 9; components 4-7, 9;
//     autocomplete 8) with "Value must be one of {...}.". Type 8 accepts at
//     most 25 choices (names 1-100, string values up to 100 characters).
//     Modal (9) data is only checked for custom_id and title.
//   - The webhook routes answer 10015 Unknown Webhook before the callback
//     and 50027 Invalid Webhook Token after InteractionTokenTTL (15 min).
//     As on Discord, the first followup after a deferred (type 5) response
//     edits the loading message instead of creating one.
//   - Interactions are delivered over the gateway only; there is no
//     outgoing-webhook (HTTP) interaction delivery, so PONG (type 1) is
//     never valid.
//
// Rate limits
//
//   - Token buckets (Limit) replace Discord's undocumented windows: per
//     channel for message create and edit (ChannelLimit), per channel for
//     typing (TypingLimit), per interaction token for the webhook routes
//     (WebhookLimit), and a global one for every authenticated route
//     (GlobalLimit; interaction routes are exempt, as documented).
//     Successful limited calls carry X-RateLimit-Limit, -Remaining, -Reset,
//     -Reset-After (until the bucket is full again) and -Bucket (a fixed
//     name such as "messages", not an opaque hash).
//   - A 429 announces retry_after in whole milliseconds (3 decimals) and
//     opens a window for the bucket (or globally); until it ends every call
//     to that bucket gets 429 with the time left, uses no token, and is
//     listed by EarlyCalls. Requests that then fail validation still count
//     (Discord limits before validating). Headers with Remaining 0 on a
//     success do not open a window; only 429s do.
//   - The invalid-request (Cloudflare) ban and the 30046/20028 special
//     limits are not modelled.
//
// Gateway
//
//   - JSON text frames only: no zlib payload compression (IDENTIFY's
//     compress flag is recorded and ignored), no transport compression,
//     no ETF (such connections are refused with HTTP 400). Path "/",
//     "/ws" or "/ws/" with any query; v other than 9 or 10 is closed with
//     4012.
//   - The fake does not close connections that stop heartbeating, and
//     sends no heartbeat requests (op 1) of its own. Sharding, presence
//     updates (op 3), voice (op 4) and member requests (op 8) are accepted
//     and ignored. Sessions never expire unless ExpireSessions is called.
//   - IDENTIFY checks the token (with or without "Bot "; 4004), that
//     intents are present (4013) and not in DisallowedIntents (4014).
//     Intents filter events: GUILDS for GUILD_CREATE, CHANNEL_CREATE and
//     THREAD_CREATE, GUILD_MESSAGES or DIRECT_MESSAGES for message events,
//     and without MESSAGE_CONTENT guild messages lose content, embeds,
//     attachments and components unless they mention the bot or are the
//     bot's own. INTERACTION_CREATE is always sent.
//   - Every live session gets every event. Messages and interactions
//     injected while no session exists wait and are delivered after the
//     next READY (Discord would drop them); channels and guilds added
//     meanwhile appear in that READY's GUILD_CREATE instead. RESUMED takes
//     a sequence number, like other dispatches. A client close with 1000
//     or 1001 invalidates its session.
//   - READY lists guilds as unavailable and is followed by GUILD_CREATE
//     with the channels and threads the fake knows, no members or roles.
package discordtest
