package openrouter

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// checkFastDecode fails when decodeChunkFast accepts data but its result
// differs from json.Unmarshal's, or json.Unmarshal finds data invalid.
func checkFastDecode(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	var fast streamChunk
	if !decodeChunkFast(data, &fast) {
		return false
	}
	var slow streamChunk
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("fast path accepted %q, json.Unmarshal: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path on %q:\n got %+v\nwant %+v", data, fast, slow)
	}
	return true
}

var fastChunkCases = []struct {
	data     string
	accepted bool
}{
	{`{"id":"gen-1","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1739458867,"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"system_fingerprint":"fp_72ed7ab54c"}`, true},
	{` { "id" : "x" , "choices" : [ { "delta" : { "content" : "a\nb \"q\" \u00e9 \ud83d\ude00" } } ] } `, true},
	{`{"choices":[{"delta":{"content":"","reasoning":"think"}}]}`, true},
	{`{"choices":[{"delta":{"content":""},"finish_reason":"stop"}]}`, true},
	{`{"choices":[]}`, true},
	{`{"choices":null,"usage":null,"id":null}`, true},
	{`{"choices":[null,{"delta":null,"message":null}]}`, true},
	{`{"error":{"code":502,"message":"upstream"},"choices":[]}`, true},
	{`{"choices":[{"delta":{"content":"x"},"error":{"message":"cut"}}]}`, true},
	{`{"choices":[{"delta":{"content":"x","tool_calls":[{"a":[1,-2.5e+3,true,false,null,{}]}]}}]}`, true},
	{"{\"choices\":[{\"delta\":{\"content\":\"invalid \xff utf-8\"}}]}", true},
	{`{}`, true},
	// Left to encoding/json.
	{`{"usage":{"prompt_tokens":1}}`, false},
	{`{"choices":[{"message":{"content":"whole"}}]}`, false},
	{`{"choices":[{"delta":{"reasoning_details":[{"type":"reasoning.text","text":"x"}]}}]}`, false},
	{`{"ID":"upper","choices":[]}`, false},
	{`{"Choices":[]}`, false},
	{`{"id":"a","id":"b"}`, false},
	{`{"id":5}`, false},
	{`{"choices":{}}`, false},
	{`{"choices":[{"delta":{"content":1}}]}`, false},
	{`{"i\u0064":"escaped key"}`, false},
	{`{"choiceſ":[]}`, false},
	{`{"id":"x"} trailing`, false},
	{`{"id":"x",}`, false},
	{`{"x":01}`, false},
	{`{"x":1.}`, false},
	{`{"x":"\q"}`, false},
	{"{\"x\":\"tab\there\"}", false},
	{`[1]`, false},
	{`null`, false},
	{`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, false},
	{`{"x":tru}`, false},
	{`{"id":"unterminated}`, false},
}

func TestDecodeChunkFast(t *testing.T) {
	for _, tc := range fastChunkCases {
		if got := checkFastDecode(t, []byte(tc.data)); got != tc.accepted {
			t.Errorf("decodeChunkFast(%s) accepted = %v, want %v", tc.data, got, tc.accepted)
		}
	}
}

// FuzzDecodeChunkFast checks the fast path against encoding/json: whatever
// it accepts, json.Unmarshal must accept and decode the same way.
func FuzzDecodeChunkFast(f *testing.F) {
	for _, tc := range fastChunkCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastDecode(t, data)
	})
}
