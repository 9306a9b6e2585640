// Package storage is chatbridge's engine.Store on Badger v4, an embedded
// key-value store: no server, one directory, one process at a time.
//
// # Key layout
//
// Every key starts with a short prefix naming its kind. Variable-length parts
// (conversation keys, ids, names) are ended by a NUL byte when more follows,
// so no key of one conversation or chat can be a prefix of another's; the
// store refuses conversation keys, setting names and ids that contain NUL.
//
//	c/<convID>                          conversation metadata (convRecord)
//	k/<convKey>\x00<convID>             index: the conversations of a chat key
//	a/<convKey>                         the key's active conversation id
//	m/<convID>\x00<seq: 8-byte BE>      one message; seq grows by one per
//	                                    append, so the last N messages are the
//	                                    first N of a reverse prefix scan: O(N)
//	                                    whatever the conversation's length
//	s/<convKey>\x00<name>               one setting of a chat key
//	o/<convKey>\x00<seq: 8-byte BE>     one change of a setting (an
//	                                    engine.SettingChange); the key
//	                                    engine.ConfigKey holds changes of the
//	                                    config's defaults
//	p/<name>                            the config's default of the last start
//	x/<name>                            a secret (the API key set by /apikey):
//	                                    plain in an encrypted database, else
//	                                    sealed with age to SecretKeyFile
//	d/<YYYY-MM-DD>\x00<userID>          usage of a UTC day; the empty user is
//	                                    the overall total
//	r/<convKey>\x00<replyID>            a reply's state
//	q/<convKey>\x00<replyID>            index: the reply is pending or
//	                                    streaming (unfinished)
//	e/<platform>\x00<eventID>           a seen inbound event, with a Badger
//	                                    TTL (whole seconds, rounded up)
//
// Conversation ids are 12 hex digits of creation time in milliseconds (kept
// strictly increasing by the process) and 4 random hex digits. Message ids
// are the decimal seq unless the caller supplied one.
//
// # Values
//
// Every value is one version byte (1), a big-endian CRC-32C of the payload,
// and the payload: JSON for records, empty for index and seen keys. A value
// that fails its checksum, has an unknown version or does not decode is
// reported as an error wrapping engine.ErrCorrupt and counted in
// Stats().Corrupt; Verify checks every value without decoding it.
//
// # Concurrency
//
// Read-modify-write operations (message append, usage counters, creating the
// active conversation, marking an event seen) run in Badger transactions
// that are retried on badger.ErrConflict, so counters stay exact under
// concurrent use. Bulk deletions (a chat's conversations, retention) first
// unlink the conversation in one transaction and then delete its messages in
// chunks; Sweep also removes messages whose conversation is gone, which a
// crash between the two steps could leave behind.
package storage
