// Package slacktest is a fake Slack for tests: the Web API, Socket Mode
// and response URLs on 127.0.0.1, driven by the real slack-go client.
//
// It is strict like Slack where a bridge can go wrong: it checks tokens,
// channels, text and block limits, message ownership and stream states
// with Slack's error codes; applies per-method and per-channel token
// buckets with 429 and Retry-After; keeps Socket Mode envelopes until
// they are acked and redelivers them; and records every call, message,
// status, file, ack and response-URL post for assertions. Calls that
// arrive while a Retry-After window is open are singled out by
// EarlyCalls.
//
// # Using it with slack-go v0.35.0
//
//	s := slacktest.New(t, slacktest.Options{PingInterval: 20 * time.Millisecond})
//	api := slack.New(s.BotToken(),
//		slack.OptionAPIURL(s.APIURL()), // URL()+"/api/", trailing slash required
//		slack.OptionAppLevelToken(s.AppToken()),
//		slack.OptionHTTPClient(&http.Client{Timeout: 10 * time.Second}))
//	sm := socketmode.New(api, socketmode.OptionPingInterval(2*time.Second))
//	go sm.RunContext(ctx) // cancel ctx and wait for it to return before the test ends
//	sent := s.SendDM("U0ANN", "hello")
//	// ... read sm.Events, sm.Ack(*evt.Request), then
//	s.WaitForAck(ctx, sent.EnvelopeID)
//
// slack-go's Socket Mode client drops a connection that receives no
// WebSocket ping within its OptionPingInterval (default 30 s), so keep
// Options.PingInterval well below it. slack-go posts every Web API method
// form-encoded with the token as a form field (apps.connections.open: an
// empty JSON body with Authorization: Bearer); the fake takes the token
// from either. slack-go only sends its token to an upload URL on the API
// host, which is why the fake serves uploads there.
//
// # Deviations from the real Slack
//
// Web API
//
//   - Implemented: auth.test, apps.connections.open, chat.postMessage,
//     chat.postEphemeral, chat.update, chat.delete, chat.startStream,
//     chat.appendStream, chat.stopStream, assistant.threads.setStatus,
//     conversations.open (one user), users.info,
//     files.getUploadURLExternal, files.completeUploadExternal. Any
//     other method answers unknown_method.
//   - Tokens: the bot token works for every method but
//     apps.connections.open, the app token only for that one; the other
//     way round gives not_allowed_token_type. A JSON body's token field is
//     ignored (use the header), as in Slack. Scopes are not modelled.
//   - Calls are served one at a time; Call.At is when a call's turn came.
//   - Text length is counted in runes. Over Options.MaxTextLen (default
//     40,000) the fake answers msg_too_long; it never truncates. Blank
//     text without blocks or attachments is no_text.
//   - Blocks: checked only for being a JSON array (invalid_blocks_format),
//     at most 50 blocks, each with a type, section text within 3,000
//     characters (with text or fields), header text within 150
//     (invalid_blocks), and markdown blocks within 12,000 characters in
//     all (msg_blocks_too_long, a name seen in the wild). Attachments must
//     be a JSON array of at most 100. Nothing else of Block Kit is
//     checked.
//   - Channels exist once added (AddChannel, AddUser, the Send helpers).
//     A user ID as channel means the DM with that user. BotAbsent gives
//     not_in_channel. Archived channels are not modelled.
//   - thread_ts: a reply's ts is moved to its parent, as Slack does; the
//     ts of an unknown message is kept as given.
//   - chat.update has no edit window; it may change a message that is
//     still streaming; ephemeral messages are message_not_found.
//   - chat.postEphemeral needs a known user (the DM's user in a DM).
//   - Streams: thread_ts is optional; outside DMs recipient_team_id and
//     recipient_user_id are required (missing_recipient_team_id,
//     missing_recipient_user_id). markdown_text (and markdown_text
//     chunks) may hold Options.MaxMarkdownLen (12,000) characters per
//     call, the whole message MaxTextLen (msg_too_long). An append with
//     neither markdown_text nor chunks is invalid_arguments. An unknown
//     ts is message_not_found; a stopped, expired (StreamTimeout) or
//     non-stream message is message_not_in_streaming_state. Other chunks
//     are recorded, not rendered.
//   - assistant.threads.setStatus needs thread_ts (invalid_arguments) and
//     at most 10 loading messages; it works in any channel the bot is in.
//     The status clears when the bot posts in the thread; the two-minute
//     expiry is not modelled.
//   - Files: the data posted to the upload URL is not compared with the
//     declared length; completing a file that was not uploaded is
//     file_not_found. A share adds a bot message (initial_comment as
//     text, FileIDs set).
//   - The bot's own posts produce no message events (Slack echoes them
//     with bot_id, and edits as message_changed).
//   - Limits apply only as configured (Limits, ChannelLimits, FailNext,
//     see SlackLimits for Slack's published numbers). They are checked
//     after the token and before validation, so failing calls use tokens
//     too. Retry-After is whole seconds, rounded up. Until a window ends,
//     every call in its scope gets 429 with the remaining time and is
//     marked Early.
//
// Socket Mode
//
//   - apps.connections.open hands out ws://127.0.0.1 URLs with tickets
//     that work once and do not expire. hello's debug_info is fixed.
//     Connections are never rotated unless the test calls Disconnect
//     (which sends the disconnect message and leaves the closing to the
//     client) or DropConnections.
//   - An envelope goes to the newest connection not told to disconnect.
//     With none open it waits and goes out, unchanged, on the next
//     connection (Slack would retry it later with retry_attempt > 0).
//   - Redeliveries (Redeliver, or automatic after Options.RedeliverAfter
//     for events_api only, up to MaxRetries, stopping once any delivery
//     of the event is acked) carry a new envelope_id, the same payload
//     and event_id, and retry_reason "timeout". Slack's own schedule
//     (about 3 s, then 1 and 5 minutes) and reason strings are not
//     copied.
//   - Ack payloads are recorded (Acks) but not acted on: a slash
//     command's ack message is not posted anywhere.
//   - message events have no blocks; a mention produces app_mention only
//     (no message.channels event). Slash command payloads send
//     is_enterprise_install as the string "false", as Slack does.
//     Interactions: block_actions only (SendBlockAction).
//
// Response URLs
//
//   - They take a JSON body, work 5 times within 30 minutes, and answer
//     "ok", or 404 with used_url, expired_url or no_service, or 400 with
//     no_text, invalid_payload or msg_too_long (the real bodies are not
//     documented). Posts are recorded, never added to Messages.
package slacktest
