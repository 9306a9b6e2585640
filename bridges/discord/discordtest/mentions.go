package discordtest

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
)

var (
	reUserMention = regexp.MustCompile(`<@!?(\d+)>`)
	reRoleMention = regexp.MustCompile(`<@&(\d+)>`)
	reEveryone    = regexp.MustCompile(`@(everyone|here)`)
)

// parseAllowedMentions decodes and validates an allowed_mentions value,
// adding errors under path. It returns nil when the value is absent or
// null.
func parseAllowedMentions(o obj, key string, fe formErrors, path string) *AllowedMentions {
	if !o.has(key) {
		return nil
	}
	var raw struct {
		Parse       *[]string `json:"parse"`
		Users       []string  `json:"users"`
		Roles       []string  `json:"roles"`
		RepliedUser bool      `json:"replied_user"`
	}
	if err := json.Unmarshal(o[key], &raw); err != nil {
		fe.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
		return nil
	}
	am := &AllowedMentions{Users: raw.Users, Roles: raw.Roles, RepliedUser: raw.RepliedUser}
	if raw.Parse != nil {
		am.Parse = append([]string{}, *raw.Parse...)
	}
	for i, p := range am.Parse {
		if p != "users" && p != "roles" && p != "everyone" {
			fe.add(path+".parse."+strconv.Itoa(i), "BASE_TYPE_CHOICES", "Value must be one of ('roles', 'users', 'everyone').")
		}
	}
	if slices.Contains(am.Parse, "users") && len(am.Users) > 0 {
		fe.add(path, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", `parse:["users"] and users: [ids...] are mutually exclusive.`)
	}
	if slices.Contains(am.Parse, "roles") && len(am.Roles) > 0 {
		fe.add(path, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", `parse:["roles"] and roles: [ids...] are mutually exclusive.`)
	}
	if len(am.Users) > 100 {
		fe.add(path+".users", "BASE_TYPE_MAX_LENGTH", maxLen(100))
	}
	if len(am.Roles) > 100 {
		fe.add(path+".roles", "BASE_TYPE_MAX_LENGTH", maxLen(100))
	}
	return am
}

// mentionContext selects Discord's default when allowed_mentions is
// absent.
type mentionContext int

const (
	// regular channel messages: everything in the content pings.
	mentionsRegular mentionContext = iota
	// interaction responses and webhooks: only user mentions ping.
	mentionsWebhook
)

// resolveMentions sets m's Mentions, MentionRoles and MentionsEveryone
// from its content under am (nil: the context's default). repliedAuthor
// is the author of the message m replies to, or "".
func resolveMentions(m *Message, am *AllowedMentions, ctx mentionContext, repliedAuthor string) {
	var parseUsers, parseRoles, everyone, replied bool
	var users, roles []string
	if am == nil {
		parseUsers = true
		if ctx == mentionsRegular {
			parseRoles, everyone, replied = true, true, true
		}
	} else {
		parseUsers = slices.Contains(am.Parse, "users")
		parseRoles = slices.Contains(am.Parse, "roles")
		everyone = slices.Contains(am.Parse, "everyone")
		users, roles, replied = am.Users, am.Roles, am.RepliedUser
	}
	m.Mentions, m.MentionRoles, m.MentionsEveryone = nil, nil, false
	for _, sm := range reUserMention.FindAllStringSubmatch(m.Content, -1) {
		id := sm[1]
		if (parseUsers || slices.Contains(users, id)) && !slices.Contains(m.Mentions, id) {
			m.Mentions = append(m.Mentions, id)
		}
	}
	if replied && repliedAuthor != "" && !slices.Contains(m.Mentions, repliedAuthor) {
		m.Mentions = append(m.Mentions, repliedAuthor)
	}
	for _, sm := range reRoleMention.FindAllStringSubmatch(m.Content, -1) {
		id := sm[1]
		if (parseRoles || slices.Contains(roles, id)) && !slices.Contains(m.MentionRoles, id) {
			m.MentionRoles = append(m.MentionRoles, id)
		}
	}
	m.MentionsEveryone = everyone && reEveryone.MatchString(m.Content)
}

// mentionsUser reports whether content mentions user id, whatever
// allowed_mentions says (used for messages users send).
func mentionsUser(content, id string) bool {
	for _, sm := range reUserMention.FindAllStringSubmatch(content, -1) {
		if sm[1] == id {
			return true
		}
	}
	return false
}
