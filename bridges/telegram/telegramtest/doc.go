package telegramtest

// Deviations from the real Bot API server, on purpose or for simplicity.
//
// Formatting
//
//   - HTML, MarkdownV2 and Markdown are parsed by ports of TDLib's
//     parse_html, parse_markdown_v2 and parse_markdown, so error texts
//     ("Unsupported start tag \"x\" at byte offset N", "Can't find end tag
//     corresponding to start tag \"b\"", "Character '.' is reserved...",
//     "Can't find end of Bold entity at byte offset N", "Can't find end of
//     the entity starting at byte offset N") and offsets match. As in the
//     real parser, a '&' that starts no known character reference is an
//     ordinary character (AT&T is fine), while a bare '<' is an
//     unsupported start tag.
//   - Entity fixing (fix_entities: pre/code contain nothing, continuous
//     entities do not nest, splittable entities are merged and cut around
//     others) and trimming of ' ' and '\n' at both ends follow TDLib.
//     TDLib's removal of some whitespace-only entities is not done.
//   - Links are checked by an approximation of get_checked_link: http,
//     https and ftp URLs with a dotted host (or localhost), tg:, ton: and
//     tonsite: links; a bare host gets a trailing slash, a missing scheme
//     becomes http://. tg://user?id=N gives a text_mention entity with a
//     user object (Entity.URL keeps the link); the real server also
//     checks that the user is known.
//   - Automatic entities are a subset of find_entities: mention,
//     bot_command, hashtag, cashtag, e-mail, and URLs that start with a
//     scheme or "www.". Bare domains ("example.com"), phone numbers and
//     bank cards are not detected.
//   - Custom emoji entities are kept; the real server drops them for bots
//     that may not use them.
//
// Methods
//
//   - Implemented: getMe, getUpdates, deleteWebhook, getWebhookInfo,
//     sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage,
//     sendChatAction, sendDocument, sendMessageDraft, setMyCommands,
//     getMyCommands, deleteMyCommands, answerCallbackQuery. Any other
//     method answers 404 "Not Found", which the real server does only for
//     unknown ones. Method names match case-insensitively, as in the real
//     server.
//   - Sending to a chat the fake has never seen (no SendText, SendReply,
//     PressButton or AddChat) fails with "chat not found", as it does for
//     a user who never started the bot.
//   - message_thread_id, link_preview_options, disable_notification,
//     protect_content and the like are accepted and ignored (link preview
//     options must be a JSON object).
//   - editMessageText without reply_markup removes the inline keyboard,
//     as the real API does. Inline message ids are not supported.
//   - A bot may delete any message; the 48-hour and admin rules are not
//     modelled.
//   - sendMessageDraft: private chats only (else TEXTDRAFT_PEER_INVALID),
//     draft_id must be non-zero (the description "draft_id must be
//     non-zero" is the fake's own; the real one is not documented). Drafts
//     are not shown as messages.
//   - setMyCommands validates like TDLib and the server (trimmed, leading
//     '/' dropped, 1-32 characters of [a-z0-9_], descriptions 1-256
//     characters, at most 100); a missing commands list clears the list.
//   - Answering a callback query twice fails like an unknown id. Callback
//     queries do not expire.
//   - Files: only sendDocument, with an upload or a file_id the fake
//     issued. URLs are refused ("wrong file identifier/HTTP URL
//     specified").
//
// Updates
//
//   - getUpdates follows the server's TQueue: offset N confirms updates
//     below N, an offset beyond the next update_id confirms nothing, a
//     negative offset keeps only the last -N updates, limit is clamped to
//     1-100 and timeout to 0-50 s. allowed_updates is remembered across
//     calls; the default set excludes chat_member, message_reaction and
//     message_reaction_count. Updates of types that are not allowed are
//     skipped at delivery (the real server does not queue them).
//   - A held long poll answers about 2 ms after an update arrives (to
//     batch updates), with whatever it may return then, even nothing if
//     the update is filtered out, as the real one does.
//   - A getUpdates that has to wait while another one is held terminates
//     the older one with 409 "Conflict: terminated by other getUpdates
//     request; make sure that only one bot instance is running" (the
//     newer request wins). Like the real server, at most one such 409 is
//     sent immediately every 3 s; later ones are delayed by 3 s.
//   - Updates never expire (the real ones do after 24 hours). There is no
//     webhook support.
//
// Flood control
//
//   - Token buckets per chat (ChatLimit), per group (GroupLimit) and for
//     the bot (GlobalLimit) apply to sendMessage, editMessageText,
//     sendChatAction, sendDocument and sendMessageDraft only. Requests
//     that fail validation (bad entities, empty text...) do not use a
//     token, as they never reach Telegram. A 429 opens a window of
//     retry_after whole seconds for the chat; until it ends every such
//     call for the chat gets 429 with the remaining time, without using
//     tokens or moving the window, and is listed by EarlyCalls (even when
//     it fails validation first). A 429 from GlobalLimit also holds back
//     every other chat until it ends. sendChatAction uses a token like a
//     message does.
