package discordtest

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// reCommandName is Discord's CHAT_INPUT command and option name rule.
var reCommandName = regexp.MustCompile(`^[-_'\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$`)

func (s *Server) appCheck(c *call) (reply, bool) {
	if c.params["application"] != s.opts.ApplicationID {
		return apiError(403, 50001, "Missing Access"), false
	}
	if g := c.params["guild"]; g != "" && s.guilds[g] == nil {
		return apiError(403, 50001, "Missing Access"), false
	}
	return reply{}, true
}

func (s *Server) listCommands(c *call) reply {
	if rep, good := s.appCheck(c); !good {
		return rep
	}
	return ok(append([]Command{}, s.commands[c.params["guild"]]...))
}

func (s *Server) overwriteCommands(c *call) reply {
	if rep, good := s.appCheck(c); !good {
		return rep
	}
	guild := c.params["guild"]
	var raws []json.RawMessage
	fe := formErrors{}
	if len(c.raw) == 0 || json.Unmarshal(c.raw, &raws) != nil {
		fe.add("", "BASE_TYPE_ARRAY", "Must be an array.")
		rep, _ := fe.reply()
		return rep
	}
	perType := map[int]int{}
	cmds := make([]Command, len(raws))
	seen := map[string]int{}
	for i, raw := range raws {
		p := strconv.Itoa(i)
		cmds[i] = validateCommand(raw, p, fe)
		perType[cmds[i].Type]++
		key := strconv.Itoa(cmds[i].Type) + "/" + cmds[i].Name
		if _, dup := seen[key]; dup {
			fe.add(p+".name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
		}
		seen[key] = i
	}
	if perType[1] > 100 {
		return apiError(400, 30032, "Maximum number of application commands reached (100)")
	}
	if perType[2] > 15 || perType[3] > 15 {
		return apiError(400, 30032, "Maximum number of application commands reached (15)")
	}
	if rep, bad := fe.reply(); bad {
		return rep
	}
	old := map[string]string{}
	for _, oc := range s.commands[guild] {
		old[strconv.Itoa(oc.Type)+"/"+oc.Name] = oc.ID
	}
	version := s.newIDLocked(c.now)
	for i := range cmds {
		cmd := &cmds[i]
		if id, existed := old[strconv.Itoa(cmd.Type)+"/"+cmd.Name]; existed {
			cmd.ID = id
		} else {
			cmd.ID = s.newIDLocked(c.now)
		}
		cmd.ApplicationID, cmd.GuildID, cmd.Version = s.opts.ApplicationID, guild, version
		if cmd.IntegrationTypes == nil && guild == "" {
			cmd.IntegrationTypes = []int{0}
		}
	}
	s.commands[guild] = cmds
	return ok(append([]Command{}, cmds...))
}

// validateCommand decodes one command and adds its errors under path p.
func validateCommand(raw json.RawMessage, p string, fe formErrors) Command {
	var cmd Command
	if err := json.Unmarshal(raw, &cmd); err != nil {
		fe.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
		return cmd
	}
	cmd.ID, cmd.ApplicationID, cmd.GuildID, cmd.Version = "", "", "", ""
	if cmd.Type == 0 {
		cmd.Type = 1
	}
	if cmd.Type < 1 || cmd.Type > 4 {
		fe.add(p+".type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
		return cmd
	}
	size := utf8.RuneCountInString(cmd.Name)
	if cmd.Type == 1 {
		checkName(cmd.Name, p+".name", fe)
		checkDescription(cmd.Description, p+".description", fe)
		size += utf8.RuneCountInString(cmd.Description)
		size += validateOptions(cmd.Options, p+".options", fe, 0)
	} else {
		if n := utf8.RuneCountInString(cmd.Name); n < 1 || n > 32 {
			fe.add(p+".name", "BASE_TYPE_BAD_LENGTH", badLen(1, 32))
		}
		if len(cmd.Options) > 0 {
			fe.add(p+".options", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Options can only be set for CHAT_INPUT commands")
		}
		cmd.Description = ""
	}
	if size > 8000 {
		fe.add(p, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")
	}
	return cmd
}

func checkName(name, path string, fe formErrors) {
	switch n := utf8.RuneCountInString(name); {
	case n < 1 || n > 32:
		fe.add(path, "BASE_TYPE_BAD_LENGTH", badLen(1, 32))
	case !reCommandName.MatchString(name) || strings.ToLower(name) != name:
		fe.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
	}
}

func checkDescription(d, path string, fe formErrors) {
	if n := utf8.RuneCountInString(d); n < 1 || n > 100 {
		fe.add(path, "BASE_TYPE_BAD_LENGTH", badLen(1, 100))
	}
}

// validateOptions checks a list of options at nesting depth (0: the
// command's own) and returns their size in characters.
func validateOptions(opts []CommandOption, p string, fe formErrors, depth int) int {
	if len(opts) > 25 {
		fe.add(p, "BASE_TYPE_MAX_LENGTH", maxLen(25))
	}
	size := 0
	names := map[string]bool{}
	optionalSeen, subs, params := false, 0, 0
	for i, o := range opts {
		op := p + "." + strconv.Itoa(i)
		size += utf8.RuneCountInString(o.Name) + utf8.RuneCountInString(o.Description)
		if o.Type < 1 || o.Type > 11 {
			fe.add(op+".type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.")
			continue
		}
		checkName(o.Name, op+".name", fe)
		checkDescription(o.Description, op+".description", fe)
		if names[o.Name] {
			fe.add(op+".name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
		}
		names[o.Name] = true
		switch o.Type {
		case 1, 2:
			subs++
			if o.Required {
				fe.add(op+".required", "APPLICATION_COMMAND_REQUIRED_INVALID", "Required cannot be configured for this type of option")
			}
			if o.Type == 2 && depth > 0 || o.Type == 1 && depth > 1 {
				fe.add(op+".type", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-command groups and sub-commands cannot be nested this deep")
			}
			if o.Type == 2 {
				for j, sub := range o.Options {
					if sub.Type != 1 {
						fe.add(op+".options."+strconv.Itoa(j)+".type", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
							"Sub-command groups may only contain sub-commands")
					}
				}
			}
			size += validateOptions(o.Options, op+".options", fe, depth+1)
			continue
		}
		params++
		if o.Required && optionalSeen {
			fe.add(p, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options")
		}
		if !o.Required {
			optionalSeen = true
		}
		if len(o.Options) > 0 {
			fe.add(op+".options", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Only sub-commands and groups may have options")
		}
		choosable := o.Type == 3 || o.Type == 4 || o.Type == 10
		if len(o.Choices) > 0 && !choosable {
			fe.add(op+".choices", "APPLICATION_COMMAND_OPTION_CHOICES_INVALID", "Choices cannot be configured for this type of option")
		}
		if o.Autocomplete && !choosable {
			fe.add(op+".autocomplete", "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "Autocomplete cannot be configured for this type of option")
		}
		if o.Autocomplete && len(o.Choices) > 0 {
			fe.add(op+".autocomplete", "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "Autocomplete and choices are mutually exclusive")
		}
		size += validateChoices(o.Choices, op+".choices", fe)
		if o.MinLength != nil && (*o.MinLength < 0 || *o.MinLength > 6000) {
			fe.add(op+".min_length", "NUMBER_TYPE_MAX", "Int value should be between 0 and 6000.")
		}
		if o.MaxLength != nil && (*o.MaxLength < 1 || *o.MaxLength > 6000) {
			fe.add(op+".max_length", "NUMBER_TYPE_MAX", "Int value should be between 1 and 6000.")
		}
	}
	if subs > 0 && params > 0 {
		fe.add(p, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
			"Sub-command and sub-command group option types are mutually exclusive to all other types")
	}
	return size
}

// validateChoices checks command choices or autocomplete results (max 25,
// names 1-100 characters, string values up to 100) and returns their size.
func validateChoices(choices []Choice, p string, fe formErrors) int {
	if len(choices) > 25 {
		fe.add(p, "BASE_TYPE_MAX_LENGTH", maxLen(25))
	}
	size := 0
	for i, ch := range choices {
		cp := p + "." + strconv.Itoa(i)
		n := utf8.RuneCountInString(ch.Name)
		size += n
		if n < 1 || n > 100 {
			fe.add(cp+".name", "BASE_TYPE_BAD_LENGTH", badLen(1, 100))
		}
		switch v := ch.Value.(type) {
		case string:
			size += utf8.RuneCountInString(v)
			if utf8.RuneCountInString(v) > 100 {
				fe.add(cp+".value", "BASE_TYPE_MAX_LENGTH", maxLen(100))
			}
		case float64:
		default:
			fe.add(cp+".value", "BASE_TYPE_REQUIRED", "This field is required")
		}
	}
	return size
}
