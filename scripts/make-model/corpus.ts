/**
 * The training text for the generated BPE tokenizers: a few kilobytes of English prose, chat-style turns and
 * source code (TypeScript, Python, JSON, shell), with a little non-ASCII text. Merges are learnt from it
 * deterministically, so changing this text changes every generated tokenizer (and therefore the token ids
 * that tests may have recorded). Treat it as frozen.
 *
 * A plain template literal, not String.raw: Bun's transpiler rewrites non-ASCII characters in template literals as
 * \u escapes, which String.raw would then keep verbatim.
 *
 * It deliberately never contains the special-token strings (`<|im_start|>`, `<think>`, …), so no ordinary BPE
 * token can spell one.
 */
export const CORPUS: string = `
The quick brown fox jumps over the lazy dog. The dog was not amused, and the fox ran back into the forest.
Once upon a time, there was a small island in the sea. The people of the island were sailors and fishermen,
and every morning they went out on their boats to catch fish. In the evening they came home, told stories,
and sang songs about the journey, the wind, and the long way back to their homes.

When you set out for Ithaca, hope that the way is long, full of adventure, full of discovery. Keep Ithaca
always in your mind. Arriving there is what you are destined for. But do not hurry the journey at all.
Better if it lasts for years, so you are old by the time you reach the island, wealthy with all you have
gained on the way, not expecting Ithaca to make you rich.

A language model reads a sequence of tokens and predicts the next one. The tokenizer turns text into tokens,
and the model turns tokens into probabilities. During generation, the model samples one token at a time,
appends it to the context, and repeats until it produces an end-of-sequence token or reaches the maximum
number of tokens. Greedy decoding always picks the most likely token; sampling with a temperature, top-p or
top-k makes the output more varied. A key-value cache stores the keys and values of previous tokens, so the
model does not need to recompute them at every step. Prefix caching reuses the cache when two requests share
the same beginning, which reduces the time to the first token.

The gateway listens on one address and speaks the OpenAI and Anthropic protocols. It routes each request to
a local model, to another machine on the local network, or to a cloud provider. Every request passes through
a pipeline of plugins: authentication, contracts, sessions and routing. Each plugin can read the request,
change it, or answer it directly. Streaming responses are sent as server-sent events, one chunk per token.

User: What is the capital of France?
Assistant: The capital of France is Paris.
User: And what is the largest planet in the solar system?
Assistant: Jupiter is the largest planet in the solar system. It is a gas giant with many moons.
User: Can you write a function that adds two numbers?
Assistant: Sure! Here is a simple function in Python and one in TypeScript.
User: Thank you, that is very helpful. Could you explain how it works?
Assistant: Of course. The function takes two arguments, adds them together, and returns the result.
User: What's the weather like today in Berlin?
Assistant: I don't have live data, but I can call the weather tool for you if you'd like.
You are a helpful assistant. Answer the question as briefly as possible, and think step by step.

def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a + b


def fibonacci(n: int) -> list[int]:
    result = [0, 1]
    while len(result) < n:
        result.append(result[-1] + result[-2])
    return result[:n]


class Counter:
    def __init__(self, start: int = 0) -> None:
        self.value = start

    def increment(self, step: int = 1) -> int:
        self.value += step
        return self.value


if __name__ == "__main__":
    for i in range(10):
        print(f"fib({i}) = {fibonacci(i + 1)[-1]}")

export function add(a: number, b: number): number {
  return a + b;
}

export async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) {
    throw new Error(\`request failed: \${response.status} \${response.statusText}\`);
  }
  return (await response.json()) as T;
}

interface Message {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
}

const messages: Message[] = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Hello, how are you?" },
];

for (const message of messages) {
  console.log(message.role, message.content.length);
}

{
  "model": "qwen3-tiny",
  "messages": [{"role": "user", "content": "Hello!"}],
  "temperature": 0.7,
  "max_tokens": 128,
  "stream": true,
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}]
}

#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
for file in src/*.ts; do
  echo "checking $file"
  grep -n "TODO" "$file" || true
done
curl -s http://localhost:8000/v1/models | jq '.data[].id'

SELECT id, name, created_at FROM sessions WHERE user_id = ? ORDER BY created_at DESC LIMIT 10;

Numbers and dates: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 2048 4096 65536 3.14159 2.71828 1e-6 2025-01-31 12:30:45.
The meeting is on Monday, March 3rd, at 10:30 in room 204. Please bring 2 copies of the report (about 15 pages).
Prices went up by 12% this year: a coffee costs $3.50, a sandwich $7.25, and a book about 20 euros.

Le café est très bon, et la crème brûlée aussi. Où est la gare ? Je voudrais un thé, s'il vous plaît.
Straße, Größe, über, schön, Mädchen. Das Wetter ist heute schön, und wir gehen spazieren.
¿Dónde está la biblioteca? La niña come una manzana. El año pasado viajamos a España.
Καλημέρα, Ιθάκη. Привет, мир! 你好，世界。こんにちは。 Emoji: 🙂 🚀 ✨ — “quotes” and ‘apostrophes’ … done.

Science is the careful study of the world through observation and experiment. Scientists ask questions,
make hypotheses, design experiments, collect data and analyse the results. When the results agree with the
prediction, the hypothesis gains support; when they do not, it must be changed or rejected. Over time, many
small results build up into theories that explain how things work, from the motion of planets to the growth
of cells. Good science is open: methods and data are shared, so that others can repeat the work and check it.

The history of computing is full of small ideas that changed everything. The stored program let a machine
treat instructions as data. High-level languages let people write programs without thinking about registers.
Operating systems shared one computer between many users, and networks connected computers to each other.
Today, a phone in your pocket is faster than the largest computers of fifty years ago, and it can run a
language model that answers questions, translates text and writes code.

Write clear code. Name things well. Keep functions small and focused on one task. Test the behaviour that
matters, not the implementation details. Handle errors where you can do something useful about them, and
let them propagate otherwise. Prefer simple data structures, and measure before you optimise anything.
Read the documentation, read the source, and when something fails, read the error message carefully.

function merge(left, right) {
  const out = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    if (left[i] <= right[j]) out.push(left[i++]);
    else out.push(right[j++]);
  }
  return out.concat(left.slice(i), right.slice(j));
}

function sort(values) {
  if (values.length <= 1) return values;
  const middle = Math.floor(values.length / 2);
  return merge(sort(values.slice(0, middle)), sort(values.slice(middle)));
}

import json
import sys

def main(argv):
    with open(argv[1], "r", encoding="utf-8") as handle:
        data = json.load(handle)
    for key, value in sorted(data.items()):
        print(key, "=", value)
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))

The old sailor looked at the sky and said that a storm was coming. The young men laughed, but by the
afternoon the clouds had turned dark and the waves were high. They pulled the boats onto the beach and waited
in the little house by the harbour, where the fire was warm and the bread was fresh. When the storm had passed,
the sea was calm again, and the stars came out one by one over the quiet water.

Questions people often ask: How do I install it? How do I start the server? Which models are supported?
How much memory do I need? Can I run it without a GPU? Why is the first request slower than the others?
How do I use my own model? Where are the logs? How do I update to the latest version? Is my data private?
`;
