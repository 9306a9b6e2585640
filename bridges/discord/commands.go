package discord

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

// optionNameRE is what Discord accepts as an option name (lower case).
var optionNameRE = regexp.MustCompile(`^[-_\p{Ll}\p{N}]{1,32}$`)

// applicationCommands turns the engine's table into Discord chat commands,
// usable in guilds, in the bot's DMs and in private channels. A command
// with arguments gets one string option, named after its usage ("[id]" →
// "id", otherwise "value") and described by the usage itself; /model's
// option autocompletes from the catalogue. Pure.
func applicationCommands(cmds []engine.CommandSpec) []*discordgo.ApplicationCommand {
	contexts := []discordgo.InteractionContextType{
		discordgo.InteractionContextGuild, discordgo.InteractionContextBotDM, discordgo.InteractionContextPrivateChannel,
	}
	installs := []discordgo.ApplicationIntegrationType{discordgo.ApplicationIntegrationGuildInstall}
	out := make([]*discordgo.ApplicationCommand, 0, len(cmds))
	for _, c := range cmds {
		ac := &discordgo.ApplicationCommand{
			Type:             discordgo.ChatApplicationCommand,
			Name:             c.Name,
			Description:      clip(c.Description, 100),
			Contexts:         &contexts,
			IntegrationTypes: &installs,
		}
		if c.Usage != "" {
			ac.Options = []*discordgo.ApplicationCommandOption{{
				Type:         discordgo.ApplicationCommandOptionString,
				Name:         optionName(c.Usage),
				Description:  clip(c.Usage, 100),
				Required:     strings.HasPrefix(c.Usage, "<"),
				Autocomplete: c.Name == "model",
			}}
		}
		out = append(out, ac)
	}
	return out
}

// optionName is the option's name for a usage synopsis.
func optionName(usage string) string {
	u := strings.TrimSpace(usage)
	if strings.HasPrefix(u, "[") && strings.HasSuffix(u, "]") || strings.HasPrefix(u, "<") && strings.HasSuffix(u, ">") {
		inner := u[1 : len(u)-1]
		if optionNameRE.MatchString(inner) && !strings.Contains(inner, "..") {
			return inner
		}
	}
	return "value"
}

// clip cuts s to at most n characters, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
