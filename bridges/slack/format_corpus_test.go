package slack

// renderTorture returns the torture corpus by name: texts made to break a
// Markdown to mrkdwn renderer. Names ending in .lossy.md hide text on
// purpose (link titles, reference labels, data: URLs) and get only the
// tree check; TestRender_Torture also runs the Telegram bridge's corpus.
func renderTorture() map[string]string {
	return map[string]string{
		"nested-fences.md": "Here is how to nest fences:\n\n" +
			"````markdown\n```go\nfmt.Println(\"hi\")\n```\n````\n\n" +
			"~~~\n```\nbackticks inside tildes\n```\n~~~\n\n" +
			"- item with code\n\n  ```sh\n  echo $HOME && ls <dir>\n  ```\n\n" +
			"> quoted code:\n> ```py\n> print('x' * 3)\n> ```\n\n" +
			"Inline: ``a ` b`` and ```triple ` inline``` and `````five`````.\n\n" +
			"```\nunclosed at the end with **bold** and _it_ inside\n",

		"unbalanced-emphasis.md": "This has **bold that never closes and *italic inside it.\n\n" +
			"Then __underscores that open__ and __never close again.\n\n" +
			"Mixed: *a **b* c** and _a __b_ c__ and ***triple** single*.\n\n" +
			"Stars in words: un*frigging*believable, and un**believ**able.\n\n" +
			"A lone ** in the middle and a lone __ too, plus * spaced stars *.\n\n" +
			"Escaped: \\*not bold\\* and \\_not italic\\_ and \\~\\~not struck\\~\\~.\n\n" +
			"Inside: **bold with \\* star** and _it with \\_ under_ and ~~s \\~ t~~.\n\n" +
			"Trailing: this line ends with **\nAnd this one with _\nAnd this one with ~~strike that never ends",

		"markers-in-words.md": "Use snake_case_name and CONSTANT_VALUE, not camelCase.\n\n" +
			"Math: 2*3*4 = 24, 2 * 3 = 6, 2**10 = 1024, a*b + c*d.\n\n" +
			"Python: def f(*args, **kwargs) and __init__ and _private and __dunder.\n\n" +
			"Paths: ~/.config/app and ~user/x, about ~40 MB vs ~10 MB, C:\\Program Files\\x_y.\n\n" +
			"Globs: *.go and **/*.md and rm -rf ./build/* now.\n\n" +
			"Files: file_name.py, my_file_.txt, _leading.txt, trailing_ here.\n\n" +
			"Backticks: it`s a typo and `unclosed code and a lone ` too.\n\n" +
			"Emoji codes: :white_check_mark: :heavy_minus_sign: :+1:",

		"literal-tags.md": "Raw HTML: <div class=\"x\">block</div> and <b>bold?</b> and <br/>.\n\n" +
			"<script>\nalert('x & y')\n</script>\n\n" +
			"Comparisons: a < b > c, x<y, i<=n && n>=0, 1 <2> 3.\n\n" +
			"Slack syntax typed by the model: <!here> <!channel> <!everyone> <@U123ABC> <#C42|general> " +
			"<!subteam^S1|@team> <!date^1392734382^{date}|Feb 18> <https://e.com|label>.\n\n" +
			"Entities: &lt;b&gt; &amp;lt; and an HTML comment <!-- hidden? --> here.\n\n" +
			"> A **tag <span\n> class=\"q\">across lines</span>** in a quote.",

		"entities.md": "AT&T and Q&A, && and &, &amp; &copy; &#169; &#xA9; &nbsp;x &bogus; &#xZZ;.\n\n" +
			"`&amp; <tag> & >` in code.\n\n| a & b | <c> |\n|---|---|\n| &lt; | `&` |",

		"links.md": "A [plain link](https://example.com/path?a=1&b=2) and [pipe | in text](https://e.com/x).\n\n" +
			"[angle > and < in text](https://e.com) and [**bold** _it_ `code` link](https://e.com/y).\n\n" +
			"[bracket [nested] text](https://e.com/n) and [parens](https://e.com/a_(b)) and " +
			"[spaces](<https://e.com/a b>).\n\n" +
			"Bare: https://e.com/x_y_z, www.example.org/a*b*, and mail me at ops@example.com.\n\n" +
			"Autolinks: <https://e.com/auto> <mailto:a@b.co> <irc://chat.example/x>.\n\n" +
			"Not web: [js](javascript:alert(1)) [rel](/docs/x) [anchor](#top) [empty]().\n\n" +
			"Bold link **[t](https://e.com)** and **https://e.com/bold/**.\n\n" +
			"Image ![alt text](https://e.com/i.png) and ![](https://e.com/noalt.png).\n\n" +
			"Link text with markers: [a *b* c_d_ ~e~](https://e.com/m) and [@here](https://e.com/h).",

		"links-metadata.lossy.md": "[titled](https://e.com \"The Title\") and [ref][r] and [collapsed][] and ![data](data:image/png;base64,AAAA).\n\n" +
			"[r]: https://e.com/ref\n[collapsed]: https://e.com/c 'T'",

		"tables.md": "| Feature | Caddy | nginx |\n|:--|:-:|--:|\n| HTTPS | **yes** | no |\n| Pipes | `a\\|b` | c \\| d |\n" +
			"| Link | [t](https://e.com) | <b>x</b> |\n| 漢字 | 👍🏽 | שלום |\n| short |\n\n" +
			"Cut table:\n\n| a | b |\n|---|---|\n| 1 | 2",

		"emoji.md": "Family 👨‍👩‍👧‍👦, flags 🇩🇪🇯🇵, skin 👍🏽👋🏿, keycap 1️⃣, ❤️ vs ❤.\n\n" +
			"**Bold 🎉** and _🙂 italic_ and ~~💥~~ and `🐛 code`.\n\n- ✅ done\n- ❌ not\n\n:tada: :smile: 🎉*x*🎉",

		"rtl.md": "שלום **עולם** ו_טוב_ — مرحبا **بالعالم** و[رابط](https://e.com/ar).\n\n" +
			"Mixed \u202eevil\u202c override and \u200fRLM\u200e marks.\n\n> ציטוט בעברית\n\n1. אחד\n2. שניים",

		"mentions.md": "Heads up @here: the deploy is done. cc @channel and @everyone!\n\n" +
			"**@here** _@channel_ ~~@everyone~~ (@here) @HERE @Channel.\n\n" +
			"- @here in a list\n> @channel in a quote\n\n`@here` in code and\n\n```\n@everyone in a block\n```\n\n" +
			"Not mentions: @heretic @channels @everyone2 ops@here.example a@channel.io",

		"deep-structure.md": "- a\n  - b\n    - c\n      - d\n        - e\n          - f\n            - g\n\n" +
			"> q1\n> > q2\n> > > q3 with **bold\n> > > across** lines\n\n" +
			"1. one\n   > quoted in item\n2. two\n   ```\n   code in item\n   ```\n3. three\n\n" +
			"- [ ] todo with `code`\n- [x] done with [link](https://e.com)\n  - [ ] nested task",

		"headings.md": "# Title with **bold** and `code`\n\n## Second _level_\n\n### ~~Struck~~ heading\n\n" +
			"Setext one\n==========\n\nSetext two\n----------\n\n#### \n\n###### Six #####\n\nText after.",

		"breaks-and-space.md": "Hard break with spaces  \nnext line\\\nafter backslash.\n\n\n\nMany blank lines above.\n" +
			"\tTab-indented text.\n\n    indented code\n\n***\n\n---\n\n___\n\nEnd.   ",

		"cut-mid-link.md": "Read the [official docs](https://docs.example.com/guide/inst",

		"cut-mid-fence.md": "Run this:\n\n```bash\nsudo systemctl restart caddy && echo '<ok>' | tee /tmp/x\n# and then **check**",

		"long-lines.md": "word_" + repeatString("lorem ipsum dolor sit amet **consectetur** _adipiscing_ ", 40) +
			"\n\n`" + repeatString("x", 500) + "`",

		"crlf.md": "Line one\r\nLine two with **bold**\r\n\r\n- item\r\n- item\r\n\r\n```\r\ncode\r\n```\r\n\rlone CR",
	}
}

// repeatString is strings.Repeat, kept here so the corpus reads as data.
func repeatString(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
