"""Build the self-distillation prompt sets for d2sd-mlx.

The target model (SmolLM2-135M-Instruct) answers these prompts and the
drafters are trained on its answers, so the prompts only need to be short,
varied requests that a small chat model can answer in a few sentences or a
short code snippet.

This script writes two JSONL files next to itself:

* ``train_prompts.jsonl``: 24,000 records, 6,000 per category
  (``code``, ``math``, ``explain``, ``chat``).

  - ``train-00001`` .. ``train-02000`` are the original set (500 per category,
    our combinatorial templates sampled with ``SEED`` plus 25 handwritten
    prompts each), unchanged.
  - ``train-02001`` .. ``train-24000`` come from a second RNG (``EXT_SEED``):
    per category 4,600 single-turn prompts from further templates, topics and
    word lists (more languages, classes, output prediction, regex/git/shell,
    new math question types and story problems, explanations for different
    audiences, messages, role play, planning, ...), often with a length or
    style constraint ("in three bullet points", "keep it under 50 words",
    "include an example call", "show your steps"), and 900 multi-turn records.
  - Multi-turn records (3,600, 15%) carry an extra ``"history"``: a list of
    ``{"role", "content"}`` messages, user/assistant alternating, starting with
    user and ending with assistant, that precede the final user message in
    ``"prompt"`` (e.g. a Python function, then "Now do the same in
    JavaScript."). The assistant turns are short answers written here or
    computed by our templates (arithmetic, unit conversions, ...).

  Single-turn prompts are distinct up to case and punctuation; records are
  distinct as whole conversations (history + prompt). The follow-up prompts of
  multi-turn records repeat across conversations.
* ``dev_prompts.jsonl``: 80 handwritten prompts, 20 per category, written
  separately with different phrasings and topics. The script asserts that no
  dev prompt equals (or nearly equals, word-set Jaccard >= 0.7) any user
  message of a training record, history included.

Every record is ``{"id": ..., "category": ..., "prompt": ...}`` plus, for
multi-turn records, ``"history": [{"role": "user", "content": ...}, ...]``.

All templates, word lists and handwritten prompts were written by the d2sd-mlx
team for this file. No public evaluation set (HumanEval, MBPP, GSM8K, MATH,
MT-Bench, Alpaca, LiveCodeBench, AIME, ...) was used, copied or paraphrased.

Standard library only and fully deterministic: running it again produces
byte-identical files.

    python scripts/make_prompts.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20240611
PER_CATEGORY = 500
CATEGORIES = ("code", "math", "explain", "chat")
OUT_DIR = Path(__file__).resolve().parents[1] / "d2sd_mlx" / "data"
TRAIN_PATH = OUT_DIR / "train_prompts.jsonl"
DEV_PATH = OUT_DIR / "dev_prompts.jsonl"
# Dev prompts must not be near-copies of training prompts (word-set Jaccard).
MAX_DEV_TRAIN_JACCARD = 0.7


# ---------------------------------------------------------------------------
# Shared word lists
# ---------------------------------------------------------------------------

NAMES = [
    "Amara", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro",
    "Isla", "Jamal", "Kenji", "Lena", "Mateo", "Nadia", "Oscar", "Priya",
    "Quinn", "Rosa", "Samir", "Tessa", "Umar", "Vera", "Wen", "Ximena",
    "Yusuf", "Zara", "Aiko", "Bruno", "Carmen", "Diego", "Esther", "Felix",
    "Gita", "Hassan", "Ines", "Jonas", "Kofi", "Lucia", "Marco", "Noor",
    "Olga", "Pablo", "Ravi", "Sofia", "Tomas", "Uma", "Victor", "Wanjiru",
    "Yara", "Zoltan", "Anika", "Caleb", "Delia", "Emeka", "Freya", "Gustavo",
    "Hana", "Ivan", "Julia", "Liam",
]

COUNTABLES = [
    "apples", "marbles", "stickers", "pencils", "cookies", "seashells",
    "stamps", "crayons", "oranges", "trading cards", "buttons", "beads",
    "tulips", "eggs", "books", "toy cars", "balloons", "candles", "cupcakes",
    "postcards", "comic books", "lemons", "strawberries", "paper clips",
    "coins", "feathers", "pebbles", "notebooks", "muffins", "chestnuts",
]

CONTAINERS = [
    ("box", "boxes"), ("bag", "bags"), ("jar", "jars"), ("crate", "crates"),
    ("basket", "baskets"), ("packet", "packets"), ("tray", "trays"),
    ("carton", "cartons"), ("tin", "tins"), ("pouch", "pouches"),
]

SHOP_ITEMS = [
    "notebooks", "pens", "sandwiches", "movie tickets", "plant pots",
    "water bottles", "bus passes", "bananas", "paint brushes", "candles",
    "bowls", "mugs", "socks", "tennis balls", "flower bulbs", "bread rolls",
    "erasers", "puzzle books", "keychains", "bike lights",
]

SINGLE_ITEMS = [
    "backpack", "board game", "lamp", "pair of shoes", "jacket", "watch",
    "chair", "guitar strap", "scarf", "kettle", "helmet", "rug", "desk fan",
    "water bottle", "umbrella", "tent", "blender", "bookshelf", "bicycle bell",
    "phone case",
]


def pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def two_names(rng: random.Random):
    a = pick(rng, NAMES)
    b = pick(rng, NAMES)
    while b == a:
        b = pick(rng, NAMES)
    return a, b


# ---------------------------------------------------------------------------
# CODE
# ---------------------------------------------------------------------------

# (task, python_only). A task may contain {slot} markers filled from SLOTS.
CODE_TASKS = [
    ("counts the {text_thing} in a string", False),
    ("removes all {removable} from a string", False),
    ("returns the {rank} number in a list without using built-in sorting", False),
    ("returns the sum of all {sign} numbers in a list", False),
    ("checks whether a number is {num_prop}", False),
    ("returns the first {small_n} {sequence} numbers", False),
    ("converts a temperature from {temp_pair}", False),
    ("converts {unit_pair}", False),
    ("reverses {reversible}", False),
    ("checks whether a string reads the same forwards and backwards", False),
    ("computes the factorial of a number {loop_style}", False),
    ("returns the greatest common divisor of two integers", False),
    ("returns the least common multiple of two integers", False),
    ("merges two sorted lists into one sorted list", False),
    ("removes duplicates from a list while keeping the original order", False),
    ("counts how often each word appears in a sentence", False),
    ("returns the most common letter in a string", False),
    ("capitalizes the first letter of every word in a sentence", False),
    ("checks whether two words are anagrams of each other", False),
    ("flattens a list of lists into a single list", False),
    ("returns the average of a list of numbers, or 0 for an empty list", False),
    ("returns the median of a list of numbers", False),
    ("splits a list into chunks of size {chunk}", False),
    ("rotates a list to the {direction} by {rot} positions", False),
    ("returns the index of a value in a list, or -1 if it is missing", False),
    ("checks whether a year is a leap year", False),
    ("returns the number of days in a given month of a given year", False),
    ("converts a binary string such as '1011' to an integer", False),
    ("converts a positive integer to a binary string", False),
    ("returns the sum of the digits of an integer", False),
    ("counts how many times a given character appears in a string", False),
    ("returns true if all elements in a list are different", False),
    ("returns the longest word in a sentence", False),
    ("returns the shortest word in a sentence", False),
    ("replaces every {replace_pair} in a string", False),
    ("returns a list of the squares of the numbers from 1 to {mid_n}", False),
    ("prints the multiplication table of a number up to {table_n}", False),
    ("generates a random password of length {pw_len}", False),
    ("checks that a password has at least {pw_len} characters and contains a digit", False),
    ("returns the elements that appear in both of two lists", False),
    ("builds a {mapping}", False),
    ("sorts a list of {sort_spec}", False),
    ("computes the area of {shape_spec}", False),
    ("returns the nth Fibonacci number {loop_style}", False),
    ("checks whether a list is sorted in ascending order", False),
    ("swaps the keys and values of a dictionary", False),
    ("returns the running totals of a list of numbers", False),
    ("counts the number of lines in a multi-line string", False),
    ("returns the difference between the largest and smallest values in a list", False),
    ("shortens a string to {trunc_n} characters and adds '...' if it was longer", False),
    ("checks whether a string contains only digits", False),
    ("returns the number of minutes between two times written as 'HH:MM'", False),
    ("pads a number with leading zeros to a width of {pad_n}", False),
    ("groups a list of words by their first letter", False),
    ("returns the second-to-last element of a list", False),
    ("compresses a string like 'aaabbc' into 'a3b2c1'", False),
    ("calculates compound interest from a principal, a yearly rate and a number of years", False),
    ("returns every even number between two given numbers", False),
    ("counts how many numbers in a list are greater than {threshold}", False),
    ("calculates a {tip}% tip on a restaurant bill", False),
    ("computes body mass index from weight in kilograms and height in meters", False),
    ("returns whether a single character is a vowel", False),
    ("simulates rolling two six-sided dice and returns the total", False),
    ("returns all the divisors of a positive integer", False),
    ("returns the product of all numbers in a list", False),
    ("checks whether a sentence uses every letter of the alphabet", False),
    ("counts the words in a sentence that start with a capital letter", False),
    ("returns the initials of a full name, like 'Ada Lovelace' -> 'A.L.'", False),
    ("checks whether a string has balanced parentheses", False),
    ("converts a number of seconds into minutes and seconds", False),
    ("returns a string with every other character in uppercase", False),
    ("finds the missing number in a list containing 1 to n with one number absent", False),
    ("interleaves two lists of the same length", False),
    ("returns the number of uppercase and lowercase letters in a string", False),
    ("converts snake_case text to camelCase", False),
    ("converts camelCase text to snake_case", False),
    ("removes all None values from a list", True),
    ("reads a text file and returns the number of words in it", True),
    ("reads a CSV file and returns the number of data rows", True),
    ("converts a sentence to title case without using str.title()", True),
    ("shuffles a list without using random.shuffle", True),
    ("returns a dictionary counting the letters in a word using collections.Counter", True),
    ("writes a list of strings to a file, one per line", True),
    ("uses a list comprehension to keep only the words longer than {word_len} letters", True),
    ("takes any number of arguments with *args and returns their sum", True),
    ("returns today's date formatted as YYYY-MM-DD", True),
]

JS_ONLY_TASKS = [
    "checks whether an object has no keys",
    "changes the text of a button with the id 'save' when it is clicked",
    "returns the current year using the Date object",
    "converts an array of {id, name} objects into an object keyed by id",
    "counts the properties of an object",
    "returns a random element from an array",
    "formats a number as a price with two decimal places",
    "adds a new list item to an unordered list on the page",
    "returns an array of the lengths of each string in an array",
    "checks whether a string starts with a given prefix without using startsWith",
]

SLOTS = {
    "text_thing": ["vowels", "consonants", "uppercase letters", "digits",
                   "spaces", "words", "punctuation marks", "lowercase letters"],
    "removable": ["spaces", "digits", "vowels", "punctuation marks",
                  "repeated characters", "non-letter characters"],
    "rank": ["largest", "smallest", "second largest", "second smallest"],
    "sign": ["even", "odd", "positive", "negative"],
    "num_prop": ["prime", "even", "a perfect square", "a palindrome",
                 "divisible by both 3 and 5", "a power of two",
                 "a perfect number", "an Armstrong number"],
    "small_n": ["5", "8", "10", "12", "15", "20"],
    "sequence": ["Fibonacci", "square", "even", "odd", "triangular", "prime",
                 "cube"],
    "temp_pair": ["Celsius to Fahrenheit", "Fahrenheit to Celsius",
                  "Celsius to Kelvin", "Kelvin to Celsius"],
    "unit_pair": ["kilometers to miles", "miles to kilometers",
                  "pounds to kilograms", "inches to centimeters",
                  "hours to minutes", "liters to cups",
                  "a number of days into weeks and days",
                  "meters per second to kilometers per hour"],
    "reversible": ["a string", "the order of words in a sentence",
                   "a list without using the built-in reverse",
                   "the digits of an integer", "each word in a sentence but keeps the word order"],
    "loop_style": ["using a loop", "using recursion"],
    "chunk": ["2", "3", "4", "5"],
    "direction": ["left", "right"],
    "rot": ["1", "2", "3"],
    "replace_pair": ["space with an underscore", "comma with a semicolon",
                     "tab with four spaces", "digit with a '#' character",
                     "vowel with an asterisk"],
    "mid_n": ["10", "20", "25", "50"],
    "table_n": ["10", "12"],
    "pw_len": ["8", "10", "12", "16"],
    "mapping": ["dictionary mapping each word in a sentence to its length",
                "dictionary mapping each letter of the alphabet to its position",
                "dictionary mapping the numbers 1 to 10 to their squares",
                "dictionary mapping each character in a string to how many times it appears"],
    "sort_spec": ["words by their length", "tuples by their second element",
                  "dictionaries by the value of their 'age' key",
                  "strings by their last letter",
                  "names alphabetically, ignoring case",
                  "numbers from largest to smallest"],
    "shape_spec": ["a circle given its radius",
                   "a triangle given its base and height",
                   "a rectangle given its width and height",
                   "a trapezoid given its two bases and its height"],
    "trunc_n": ["10", "20", "30"],
    "pad_n": ["3", "5", "8"],
    "threshold": ["10", "50", "100", "the average of the list"],
    "tip": ["10", "15", "18", "20"],
    "word_len": ["3", "4", "5"],
}

CODE_PHRASINGS = [
    "Write a {lang} function that {task}.",
    "Write a short {lang} function that {task}.",
    "Can you write a {lang} function that {task}?",
    "Show me a {lang} function that {task}.",
    "Please write a {lang} function that {task}. Keep it short.",
    "I need a {lang} function that {task}.",
    "Write a simple {lang} function that {task}, with a short example call.",
]

_SLOT_RE = re.compile(r"\{(\w+)\}")


def fill_slots(rng: random.Random, template: str) -> str:
    # JS_ONLY_TASKS contains literal braces ("{id, name}"); only known slots are filled.
    return _SLOT_RE.sub(
        lambda m: pick(rng, SLOTS[m.group(1)]) if m.group(1) in SLOTS else m.group(0),
        template,
    )


def to_js(task: str) -> str:
    task = re.sub(r"\blists\b", "arrays", task)
    task = re.sub(r"\blist\b", "array", task)
    task = task.replace("dictionaries", "objects").replace("dictionary", "object")
    task = task.replace("tuples", "pairs")
    return task


def gen_code_func(rng, lang):
    if lang == "Python":
        task, _ = pick(rng, CODE_TASKS)
        task = fill_slots(rng, task)
    else:
        if rng.random() < 0.2:
            task = pick(rng, JS_ONLY_TASKS)
        else:
            task, py_only = pick(rng, CODE_TASKS)
            while py_only:
                task, py_only = pick(rng, CODE_TASKS)
            task = to_js(fill_slots(rng, task))
    prompt = pick(rng, CODE_PHRASINGS).format(lang=lang, task=task)
    return prompt, ("func", lang, task)


def gen_code_py(rng):
    return gen_code_func(rng, "Python")


def gen_code_js(rng):
    return gen_code_func(rng, "JavaScript")


VAR_SEQS = ["nums", "values", "scores", "items", "data", "prices", "ages"]
VAR_STRS = ["text", "word", "name", "line", "msg", "s"]
WORDS = ["banana", "rocket", "garden", "pencil", "harbor", "lantern",
         "meadow", "orbit", "pepper", "violet", "canyon", "saddle"]

# Each snippet is a function rng -> (language, code). They are explained, not run.
SNIPPETS = [
    lambda r: ("python", f"for i in range({r.randint(3, 9)}):\n    print(i * {r.randint(2, 9)})"),
    lambda r: ("python", (lambda v: f"def keep_even({v}):\n    return [x for x in {v} if x % 2 == 0]")(pick(r, VAR_SEQS))),
    lambda r: ("python", (lambda v: f"total = 0\nfor x in {v}:\n    total += x\nprint(total / len({v}))")(pick(r, VAR_SEQS))),
    lambda r: ("python", (lambda v: f"{v} = \"{pick(r, WORDS)}\"\nprint({v}[::-1])")(pick(r, VAR_STRS))),
    lambda r: ("python", (lambda v: f"counts = {{}}\nfor ch in {v}:\n    counts[ch] = counts.get(ch, 0) + 1\nprint(counts)")(pick(r, VAR_STRS))),
    lambda r: ("python", f"n = {r.randint(1000, 99999)}\ndigits = 0\nwhile n > 0:\n    n //= 10\n    digits += 1\nprint(digits)"),
    lambda r: ("python", (lambda v: f"{v} = sorted({v}, key=len)\nprint({v}[-1])")(pick(r, ["words", "names", "titles"]))),
    lambda r: ("python", f"x = {r.randint(2, 30)}\nif x % 2 == 0:\n    print(\"even\")\nelse:\n    print(\"odd\")"),
    lambda r: ("python", (lambda a, b: f"{a}, {b} = {b}, {a}")(*r.sample(["a", "b", "x", "y", "left", "right"], 2))),
    lambda r: ("python", f"squares = {{n: n * n for n in range(1, {r.randint(4, 11)})}}\nprint(squares)"),
    lambda r: ("python", (lambda v: f"def shout({v}):\n    return {v}.upper() + \"!\"")(pick(r, VAR_STRS))),
    lambda r: ("python", f"with open(\"{pick(r, ['notes', 'log', 'data', 'todo'])}.txt\") as f:\n    lines = f.readlines()\nprint(len(lines))"),
    lambda r: ("python", f"def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n\nprint(fact({r.randint(4, 7)}))"),
    lambda r: ("python", (lambda v: f"{v} = [{', '.join(str(r.randint(1, 40)) for _ in range(5))}]\nprint(max({v}) - min({v}))")(pick(r, VAR_SEQS))),
    lambda r: ("python", f"names = [\"{pick(r, NAMES)}\", \"{pick(r, NAMES)}\", \"{pick(r, NAMES)}\"]\nfor i, name in enumerate(names, start=1):\n    print(i, name)"),
    lambda r: ("python", f"words = \"{pick(r, WORDS)} {pick(r, WORDS)} {pick(r, WORDS)}\".split()\nprint(\" \".join(w.capitalize() for w in words))"),
    lambda r: ("python", f"i = {r.randint(5, 12)}\nwhile i > 0:\n    print(i)\n    i -= {r.randint(2, 3)}"),
    lambda r: ("python", "try:\n    value = int(input(\"Number: \"))\nexcept ValueError:\n    value = 0\nprint(value * 2)"),
    lambda r: ("python", f"class Counter:\n    def __init__(self):\n        self.count = 0\n\n    def tick(self):\n        self.count += {r.randint(1, 5)}\n        return self.count"),
    lambda r: ("python", f"evens = list(filter(lambda n: n % 2 == 0, range({r.randint(10, 30)})))\nprint(evens)"),
    lambda r: ("python", (lambda v: f"seen = set()\nresult = []\nfor x in {v}:\n    if x not in seen:\n        seen.add(x)\n        result.append(x)")(pick(r, VAR_SEQS))),
    lambda r: ("python", f"pairs = list(zip([\"a\", \"b\", \"c\"], [{r.randint(1, 9)}, {r.randint(1, 9)}, {r.randint(1, 9)}]))\nprint(dict(pairs))"),
    lambda r: ("javascript", (lambda v: f"const doubled = {v}.map(n => n * 2);\nconsole.log(doubled);")(pick(r, VAR_SEQS))),
    lambda r: ("javascript", (lambda v: f"const total = {v}.reduce((sum, n) => sum + n, 0);")(pick(r, VAR_SEQS))),
    lambda r: ("javascript", f"for (let i = 1; i <= {r.randint(10, 20)}; i++) {{\n  if (i % {r.randint(3, 5)} === 0) console.log(i);\n}}"),
    lambda r: ("javascript", f"const btn = document.getElementById(\"{pick(r, ['go', 'save', 'send', 'start'])}\");\nbtn.addEventListener(\"click\", () => alert(\"Hello!\"));"),
    lambda r: ("javascript", (lambda v: f"const {v} = \"{pick(r, WORDS)}\";\nconsole.log({v}.split(\"\").reverse().join(\"\"));")(pick(r, ["text", "word", "str"]))),
    lambda r: ("javascript", f"setTimeout(() => {{\n  console.log(\"Done\");\n}}, {pick(r, [500, 1000, 2000, 3000])});"),
    lambda r: ("javascript", (lambda v: f"const adults = {v}.filter(p => p.age >= 18);")(pick(r, ["people", "users", "members"]))),
]

EXPLAIN_CODE_PHRASINGS = [
    "Explain what this {lang} code does:\n\n```{tag}\n{code}\n```",
    "What does the following {lang} code print or do?\n\n```{tag}\n{code}\n```",
    "Explain this {lang} snippet line by line:\n\n```{tag}\n{code}\n```",
    "Describe in plain English what this code does:\n\n```{tag}\n{code}\n```",
]


def gen_code_explain(rng):
    idx = rng.randrange(len(SNIPPETS))
    tag, code = SNIPPETS[idx](rng)
    lang = "Python" if tag == "python" else "JavaScript"
    prompt = pick(rng, EXPLAIN_CODE_PHRASINGS).format(lang=lang, tag=tag, code=code)
    # Key on the snippet template plus one of three buckets, so each snippet
    # template is used at most three times.
    return prompt, ("explain_code", idx, rng.randrange(3))


BUGGY = [
    ("def average(nums):\n    return sum(nums) / len(num)", "return the average of a list"),
    ("def is_even(n):\n    return n % 2 == 1", "check whether a number is even"),
    ("def greet(name):\n    print(\"Hello, \" + name)\n\nmessage = greet(\"Sam\")\nprint(message.upper())", "print a greeting in capital letters"),
    ("def last_item(items):\n    return items[len(items)]", "return the last item of a list"),
    ("total = 0\nfor i in range(1, 10):\n    total += i\nprint(total)  # should be the sum of 1 to 10", "add up the numbers from 1 to 10"),
    ("def add_item(item, basket=[]):\n    basket.append(item)\n    return basket", "return a new list containing the item"),
    ("age = input(\"Age: \")\nif age > 18:\n    print(\"adult\")", "print 'adult' for people older than 18"),
    ("def count_a(text):\n    count = 0\n    for ch in text:\n        if ch == \"a\":\n            count + 1\n    return count", "count the letter a in a string"),
    ("def max_value(nums):\n    best = 0\n    for n in nums:\n        if n > best:\n            best = n\n    return best", "return the largest number, even if all numbers are negative"),
    ("for i in range(5)\n    print(i)", "print the numbers 0 to 4"),
    ("def celsius_to_f(c):\n    return c * 9 / 5 - 32", "convert Celsius to Fahrenheit"),
    ("words = [\"b\", \"a\", \"c\"]\nsorted_words = words.sort()\nprint(sorted_words)", "print the words in sorted order"),
    ("function sum(arr) {\n  let total;\n  for (const n of arr) total += n;\n  return total;\n}", "return the sum of an array"),
    ("if (name = \"admin\") {\n  console.log(\"Welcome, admin\");\n}", "greet only the admin user"),
    ("def remove_odds(nums):\n    for n in nums:\n        if n % 2:\n            nums.remove(n)\n    return nums", "remove every odd number from a list"),
    ("def first_word(sentence):\n    return sentence.split(\" \")[1]", "return the first word of a sentence"),
    ("def countdown(n):\n    while n > 0:\n        print(n)\n    print(\"Liftoff!\")", "count down to zero and then print Liftoff!"),
]

BUGGY_PHRASINGS = [
    "This code is supposed to {goal}, but it has a bug. Find it and fix it.\n\n```\n{code}\n```",
    "Find the bug in this code. It should {goal}.\n\n```\n{code}\n```",
    "What is wrong with this code? It is meant to {goal}.\n\n```\n{code}\n```",
]


def gen_code_bug(rng):
    idx = rng.randrange(len(BUGGY))
    code, goal = BUGGY[idx]
    return pick(rng, BUGGY_PHRASINGS).format(code=code, goal=goal), ("bug", idx)


PY_HOWTO = [
    "read a file line by line", "sort a dictionary by its values",
    "check if a key exists in a dictionary", "convert a string to an integer",
    "get the current date and time", "join a list of strings with commas",
    "remove whitespace from both ends of a string", "create a virtual environment",
    "catch an exception and print its message", "generate a random number between 1 and 100",
    "loop over the keys and values of a dictionary", "make a copy of a list",
    "check the type of a variable", "format a number with two decimal places",
    "split a string on commas", "measure how long a piece of code takes to run",
    "parse a JSON string into a dictionary", "pause a program for two seconds",
    "read input from the user", "define a class with a constructor",
    "filter a list with a list comprehension", "get both the index and the value in a for loop",
    "combine two lists into pairs", "read command-line arguments",
    "check whether a file exists", "create a new folder",
    "list all the files in a folder", "turn a list into a set",
    "sort a list in descending order", "find the position of an item in a list",
    "replace part of a string", "give a function parameter a default value",
    "return two values from one function", "use an f-string to insert a variable into text",
    "write a docstring for a function", "define a simple dataclass",
    "install a package with pip", "write a dictionary to a JSON file",
    "get the last three items of a list", "check if a string starts with a certain word",
    "round a float to the nearest whole number", "run a function only when a script is executed directly",
]

JS_HOWTO = [
    "select an element by its id", "add an item to the end of an array",
    "loop over the keys of an object", "convert a string to a number",
    "wait one second before running some code", "check if a value is an array",
    "make a shallow copy of an object", "remove the first element of an array",
    "write an arrow function", "insert a variable into a template literal",
    "parse a JSON string", "sort an array of numbers from smallest to largest",
    "check if a string contains a word", "get the current year",
    "hide an element on a web page", "store a value in localStorage",
]

HOWTO_PHRASINGS = [
    "How do I {action} in {lang}?",
    "What is the easiest way to {action} in {lang}?",
    "In {lang}, how can I {action}? Show a short example.",
    "How can I {action} in {lang}?",
]


def gen_code_howto(rng):
    if rng.random() < 0.7:
        lang, action = "Python", pick(rng, PY_HOWTO)
    else:
        lang, action = "JavaScript", pick(rng, JS_HOWTO)
    return pick(rng, HOWTO_PHRASINGS).format(action=action, lang=lang), ("howto", lang, action)


CONCEPT_PAIRS = [
    ("a list", "a tuple", "Python"), ("`==`", "`is`", "Python"),
    ("`append()`", "`extend()`", "Python"), ("`break`", "`continue`", "Python"),
    ("`sort()`", "`sorted()`", "Python"), ("a set", "a list", "Python"),
    ("`return`", "`print`", "Python"), ("`/`", "`//`", "Python"),
    ("`*args`", "`**kwargs`", "Python"), ("a shallow copy", "a deep copy", "Python"),
    ("a for loop", "a while loop", "Python"), ("a class", "an instance", "Python"),
    ("a function", "a method", "Python"), ("a local variable", "a global variable", "Python"),
    ("`let`", "`const`", "JavaScript"), ("`==`", "`===`", "JavaScript"),
    ("`null`", "`undefined`", "JavaScript"), ("`var`", "`let`", "JavaScript"),
    ("`map()`", "`forEach()`", "JavaScript"), ("a function declaration", "an arrow function", "JavaScript"),
    ("a compiled language", "an interpreted language", None), ("a stack", "a queue", None),
    ("an array", "a linked list", None), ("a GET request", "a POST request", None),
    ("HTML", "CSS", None), ("the frontend", "the backend", None),
    ("Git", "GitHub", None), ("a syntax error", "a logic error", None),
    ("a library", "a framework", None), ("RAM", "storage", None),
    ("an integer", "a floating-point number", None), ("a parameter", "an argument", None),
]

PY_KEYWORDS = ["yield", "lambda", "pass", "with", "global", "assert", "del",
               "in", "not", "elif", "None", "self", "return", "import"]

PROGRAMMING_CONCEPTS = [
    "recursion", "a variable", "a loop", "an API", "a hash table",
    "Big O notation", "an algorithm", "inheritance", "a closure",
    "version control", "a unit test", "a data type", "a boolean",
    "an index", "refactoring", "debugging", "an off-by-one error",
    "garbage collection", "a compiler", "a database", "a function",
    "an infinite loop", "a string", "a dictionary", "an exception",
    "a comment", "pseudocode", "an operating system", "a binary search",
    "a sorting algorithm", "a regular expression", "JSON",
]


def gen_code_concept(rng):
    r = rng.random()
    if r < 0.4:
        a, b, lang = pick(rng, CONCEPT_PAIRS)
        where = f" in {lang}" if lang else pick(rng, [" in programming", ""])
        return f"What is the difference between {a} and {b}{where}?", ("pair", a, b, lang)
    if r < 0.65:
        kw = pick(rng, PY_KEYWORDS)
        form = pick(rng, ["What does the `{k}` keyword do in Python?",
                          "Explain the `{k}` keyword in Python with a small example."])
        return form.format(k=kw), ("kw", kw)
    c = pick(rng, PROGRAMMING_CONCEPTS)
    form = pick(rng, ["What is {c} in programming?",
                      "Explain what {c} is to a beginner programmer.",
                      "In programming, what is {c}? Give a short example."])
    return form.format(c=c), ("concept", c)


SQL_TABLES = [
    ("employees", "name, department, salary, hire_year", [
        "lists the names of employees in the 'Sales' department",
        "finds the average salary in each department",
        "returns the three highest-paid employees",
        "counts how many employees were hired after 2020",
        "lists employees whose salary is between 40000 and 60000",
    ]),
    ("students", "name, grade, age, city", [
        "returns all students older than 12",
        "counts the students in each city",
        "lists students ordered by grade from highest to lowest",
        "finds the youngest student",
        "returns the names of students whose name starts with 'M'",
    ]),
    ("orders", "id, customer, amount, order_date", [
        "finds the total amount spent by each customer",
        "lists all orders placed in March 2024",
        "returns the order with the largest amount",
        "counts the orders for each customer and keeps only customers with more than 5 orders",
        "deletes orders with an amount of zero",
    ]),
    ("books", "title, author, year, pages", [
        "lists books published before 1950",
        "finds the author with the most books in the table",
        "returns the average number of pages per book",
        "lists the titles of books longer than 400 pages, sorted by year",
        "updates the year of the book titled 'Night Garden' to 2019",
    ]),
    ("products", "name, category, price, stock", [
        "lists products that are out of stock",
        "finds the most expensive product in each category",
        "increases every price in the 'toys' category by 10 percent",
        "counts how many products cost less than 5 dollars",
        "returns product names and prices sorted from cheapest to most expensive",
    ]),
]


def gen_code_sql(rng):
    t = rng.randrange(len(SQL_TABLES))
    table, cols, tasks = SQL_TABLES[t]
    task = pick(rng, tasks)
    form = pick(rng, [
        "Given a table {table}({cols}), write a SQL query that {task}.",
        "Write a SQL query that {task}. The table is {table}({cols}).",
    ])
    return form.format(table=table, cols=cols, task=task), ("sql", table, task)


SHELL_TASKS = [
    "counts the lines in a file called data.txt",
    "lists all .py files in the current folder",
    "finds files larger than 100 MB in the home directory",
    "shows the last 20 lines of app.log",
    "creates a folder named backup and copies all .csv files into it",
    "searches for the word 'error' in every .log file",
    "shows how much disk space the current folder uses",
    "counts how many files are in a folder",
    "sorts the lines of names.txt alphabetically and removes duplicates",
    "shows which process is listening on port 8080",
    "compresses a folder called photos into a .tar.gz archive",
    "prints the first 5 lines of a CSV file",
    "replaces 'cat' with 'dog' everywhere in story.txt",
    "makes a script called run.sh executable",
    "lists files sorted by modification time, newest first",
    "prints the number of words in essay.txt",
    "shows the last five git commits on one line each",
    "deletes all .tmp files in the current folder",
    "prints the current directory",
    "downloads a file from a URL and saves it as page.html",
    "shows all environment variables that contain the word PATH",
    "renames notes.txt to notes_old.txt",
]


def gen_code_shell(rng):
    task = pick(rng, SHELL_TASKS)
    form = pick(rng, ["Write a shell command that {task}.",
                      "Give me a Linux terminal command that {task}, and explain it briefly."])
    return form.format(task=task), ("shell", task)


CODE_GENERATORS = [
    (gen_code_py, 150), (gen_code_js, 75), (gen_code_explain, 70),
    (gen_code_bug, 15), (gen_code_howto, 55), (gen_code_concept, 65),
    (gen_code_sql, 25), (gen_code_shell, 20),
]

CODE_HANDWRITTEN = [
    "Write a Python program that asks for the user's name and then greets them.",
    "Write a Python function that plays one round of rock, paper, scissors against the computer.",
    "Write a tiny to-do list program in Python that can add, list and remove tasks.",
    "Write a Python class called BankAccount with deposit and withdraw methods.",
    "Write a Python function that prints a right-angled triangle of stars with a given height.",
    "Write a Python function that tells whether a given date string in YYYY-MM-DD format is a weekend.",
    "Write a Python generator that yields the numbers of a countdown from 10 to 1.",
    "Write a number guessing game in Python where the player has five tries.",
    "Write a Python function that prints FizzBuzz-style output but uses 'Ping' for multiples of 4 and 'Pong' for multiples of 6.",
    "Write a JavaScript function that toggles dark mode by adding or removing a CSS class on the body.",
    "Write a small HTML page with a heading, a paragraph and a button.",
    "Write a CSS rule that centers a div both horizontally and vertically using flexbox.",
    "Write a JavaScript function that counts down from 5 and logs 'Go!' at the end.",
    "What is a Python virtual environment and why should I use one?",
    "Why does Python use indentation instead of curly braces?",
    "What are the main differences between Python and JavaScript for a beginner?",
    "Explain what a for loop is using a real-life example.",
    "What habits make code easier for other people to read?",
    "What is the purpose of a README file in a software project?",
    "Explain what `if __name__ == \"__main__\":` means in Python.",
    "Write a Python dictionary that stores the capital cities of four countries, then print one of them.",
    "Write a regular expression that matches a five-digit postal code, and explain it.",
    "Write a Python function that returns a greeting that depends on the hour of the day.",
    "Explain the difference between a bug and a feature request in a software project.",
    "Write a Python script that prints the numbers from 1 to 20, one per line, skipping multiples of 3.",
]


# ---------------------------------------------------------------------------
# MATH
# ---------------------------------------------------------------------------

def gen_math_arith(rng):
    kind = rng.randrange(11)
    if kind == 0:
        a, b = rng.randint(11, 99), rng.randint(11, 49)
        p = pick(rng, ["What is {a} times {b}?", "Calculate {a} × {b}.", "What is {a} multiplied by {b}?"])
        return p.format(a=a, b=b), ("mul", a, b)
    if kind == 1:
        a, b = rng.randint(100, 9999), rng.randint(100, 9999)
        p = pick(rng, ["What is {a} plus {b}?", "Add {a} and {b}.", "What is {a} + {b}?"])
        return p.format(a=a, b=b), ("add", a, b)
    if kind == 2:
        a = rng.randint(500, 9999)
        b = rng.randint(100, a - 1)
        p = pick(rng, ["What is {a} minus {b}?", "Subtract {b} from {a}.", "What is {a} - {b}?"])
        return p.format(a=a, b=b), ("sub", a, b)
    if kind == 3:
        b, q = rng.randint(3, 25), rng.randint(4, 60)
        p = pick(rng, ["What is {a} divided by {b}?", "Divide {a} by {b}.", "What is {a} / {b}?"])
        return p.format(a=b * q, b=b), ("div", b * q, b)
    if kind == 4:
        b, c = rng.randint(2, 12), rng.randint(2, 12)
        op = pick(rng, ["+", "-"])
        a = rng.randint(2, 20) + (b * c if op == "-" else 0)
        return f"What is {a} {op} {b} × {c}? Remember the order of operations.", ("ops", a, op, b, c)
    if kind == 5:
        n = rng.randint(11, 35)
        p = pick(rng, ["What is {n} squared?", "What is the square of {n}?"])
        return p.format(n=n), ("sq", n)
    if kind == 6:
        n = rng.randint(4, 30)
        return f"What is the square root of {n * n}?", ("sqrt", n)
    if kind == 7:
        n = rng.randint(20, 200)
        p = pick(rng, ["Is {n} a prime number? Explain why.", "Is {n} prime?"])
        return p.format(n=n), ("prime", n)
    if kind == 8:
        a, b = rng.randint(20, 300), rng.randint(3, 12)
        return f"What is the remainder when {a} is divided by {b}?", ("mod", a, b)
    if kind == 9:
        d = rng.choice([4, 5, 6, 8, 10, 12])
        a, b = sorted(rng.sample(range(1, d), 2), reverse=True)
        op = pick(rng, ["plus", "minus"])
        return f"What is {a}/{d} {op} {b}/{d}? Simplify your answer.", ("frac", a, op, b, d)
    x = round(rng.uniform(10, 9999), rng.choice([1, 2]))
    place = pick(rng, ["the nearest whole number", "the nearest ten", "the nearest hundred", "one decimal place"])
    return f"Round {x} to {place}.", ("round", x, place)


# Each word-problem template returns (prompt, key). Numbers keep answers whole.
def wp_more(r):
    a, b = two_names(r)
    obj = pick(r, COUNTABLES)
    x, y = r.randint(3, 60), r.randint(2, 40)
    return f"{a} has {x} {obj}. {b} gives {a} {y} more. How many {obj} does {a} have now?"


def wp_left(r):
    a, b = two_names(r)
    obj = pick(r, COUNTABLES)
    x = r.randint(12, 90)
    y = r.randint(2, x - 2)
    return f"{a} had {x} {obj} and gave {y} of them to {b}. How many {obj} does {a} have left?"


def wp_containers(r):
    obj = pick(r, COUNTABLES)
    c, cs = pick(r, CONTAINERS)
    x, n = r.randint(4, 24), r.randint(3, 15)
    return f"A {c} holds {x} {obj}. How many {obj} are in {n} {cs}?"


def wp_share(r):
    a = pick(r, NAMES)
    obj = pick(r, COUNTABLES)
    k, each = r.randint(2, 9), r.randint(2, 12)
    return f"{a} shares {k * each} {obj} equally among {k} friends. How many {obj} does each friend get?"


def wp_buy(r):
    a = pick(r, NAMES)
    item = pick(r, SHOP_ITEMS)
    n, p = r.randint(2, 12), r.randint(2, 25)
    return f"{a} buys {n} {item} that cost ${p} each. How much does {a} spend in total?"


def wp_save(r):
    a = pick(r, NAMES)
    s, w = r.choice([5, 8, 10, 12, 15, 20, 25]), r.randint(3, 20)
    return f"{a} saves ${s} every week. How much will {a} have saved after {w} weeks?"


def wp_speed(r):
    veh = pick(r, ["A train", "A car", "A bus", "A ferry", "A cyclist", "A delivery van"])
    s = r.choice([12, 15, 20, 40, 45, 50, 60, 72, 80, 90])
    h = r.randint(2, 6)
    return f"{veh} travels at {s} kilometers per hour. How far does it go in {h} hours?"


def wp_pages(r):
    a = pick(r, NAMES)
    p, d = r.choice([10, 12, 15, 20, 25, 30, 40]), r.randint(4, 20)
    return f"{a} reads {p} pages a day. How many days will it take {a} to finish a {p * d}-page book?"


def wp_change(r):
    a = pick(r, NAMES)
    thing = pick(r, SINGLE_ITEMS)
    m = r.choice([20, 50, 100, 200])
    c = r.randint(3, m - 1)
    return f"{a} has ${m} and buys a {thing} for ${c}. How much money does {a} have left?"


def wp_recipe(r):
    ing = pick(r, ["cups of flour", "eggs", "spoons of sugar", "cups of milk", "bananas", "cups of oats"])
    x, n = r.randint(2, 5), r.randint(2, 8)
    dish = pick(r, ["pancakes", "muffins", "bread", "cookies", "soup", "porridge"])
    return f"A recipe for one batch of {dish} needs {x} {ing}. How many {ing} are needed for {n} batches?"


def wp_age(r):
    a, b = two_names(r)
    x, y = r.randint(6, 40), r.randint(2, 15)
    rel = pick(r, ["older", "younger"])
    if rel == "younger" and y >= x:
        y = x // 2
    return f"{a} is {x} years old. {b} is {y} years {rel} than {a}. How old is {b}?"


def wp_run(r):
    a = pick(r, NAMES)
    act = pick(r, [("runs", "kilometers"), ("swims", "laps"), ("cycles", "kilometers"), ("walks", "kilometers")])
    d1, d2, d3 = r.randint(2, 12), r.randint(2, 12), r.randint(2, 12)
    return (f"{a} {act[0]} {d1} {act[1]} on Monday, {d2} on Wednesday and {d3} on Friday. "
            f"How many {act[1]} is that in total?")


def wp_class(r):
    total = r.randint(20, 36)
    part = r.randint(4, total - 4)
    group = pick(r, ["wear glasses", "walk to school", "have a pet", "play an instrument", "bring lunch from home"])
    return f"There are {total} students in a class and {part} of them {group}. How many students do not {group}?"


def wp_rows(r):
    thing = pick(r, ["chairs", "trees", "tomato plants", "desks", "tiles", "flower pots"])
    rows, per = r.randint(3, 15), r.randint(4, 20)
    who = pick(r, ["Someone arranges", "A school sets up", "A team lays out"])
    return f"{who} {thing} in {rows} rows with {per} {thing} in each row. How many {thing} are there?"


def wp_two_step(r):
    a = pick(r, NAMES)
    obj = pick(r, COUNTABLES)
    x, y, z = r.randint(20, 60), r.randint(5, 15), r.randint(3, 15)
    return (f"{a} starts the day with {x} {obj}, gives away {y}, and then finds {z} more. "
            f"How many {obj} does {a} have at the end of the day?")


def wp_tickets(r):
    n1, n2 = r.randint(2, 6), r.randint(1, 6)
    p1, p2 = r.randint(6, 15), r.randint(3, 8)
    place = pick(r, ["a museum", "a zoo", "a swimming pool", "a science fair", "a puppet show"])
    return (f"Tickets to {place} cost ${p1} for adults and ${p2} for children. "
            f"How much do {n1} adult and {n2} child tickets cost altogether?")


WORD_PROBLEMS = [wp_more, wp_left, wp_containers, wp_share, wp_buy, wp_save,
                 wp_speed, wp_pages, wp_change, wp_recipe, wp_age, wp_run,
                 wp_class, wp_rows, wp_two_step, wp_tickets]


def gen_math_word(rng):
    i = rng.randrange(len(WORD_PROBLEMS))
    p = WORD_PROBLEMS[i](rng)
    return p, ("wp", p)


UNITS = [
    ("meters", "centimeters", 100), ("kilometers", "meters", 1000),
    ("hours", "minutes", 60), ("minutes", "seconds", 60),
    ("kilograms", "grams", 1000), ("liters", "milliliters", 1000),
    ("feet", "inches", 12), ("yards", "feet", 3), ("days", "hours", 24),
    ("weeks", "days", 7), ("dollars", "cents", 100), ("gallons", "quarts", 4),
    ("centimeters", "millimeters", 10), ("years", "months", 12),
]


def gen_math_units(rng):
    kind = rng.randrange(4)
    big, small, f = pick(rng, UNITS)
    if kind == 0:
        n = rng.randint(2, 25)
        return f"How many {small} are in {n} {big}?", ("u", big, small, n)
    if kind == 1:
        n = rng.randint(2, 40) * f
        return f"Convert {n} {small} to {big}.", ("u", small, big, n)
    if kind == 2:
        c = rng.choice(range(-20, 105, 5))
        if rng.random() < 0.5:
            return f"Convert {c} degrees Celsius to Fahrenheit.", ("c2f", c)
        fah = c * 9 // 5 + 32  # c is a multiple of 5, so this is exact
        return f"What is {fah} degrees Fahrenheit in Celsius?", ("f2c", fah)
    n = round(rng.uniform(1.5, 9.5), 1)
    return f"How many {small} are in {n} {big}?", ("u", big, small, n)


def gen_math_percent(rng):
    kind = rng.randrange(5)
    if kind == 0:
        p = rng.choice([5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80])
        n = rng.randint(2, 60) * 20
        return f"What is {p}% of {n}?", ("pct", p, n)
    if kind == 1:
        item = pick(rng, SINGLE_ITEMS)
        price = rng.randint(2, 30) * 10
        p = rng.choice([10, 15, 20, 25, 30, 40, 50])
        return f"A {item} costs ${price}. It is on sale for {p}% off. What is the sale price?", ("sale", item, price, p)
    if kind == 2:
        total = rng.choice([20, 25, 40, 50, 80, 200])
        part = rng.randint(1, total - 1)
        while (part * 100) % total:
            part = rng.randint(1, total - 1)
        what = pick(rng, ["questions on a quiz", "seeds planted", "free throws", "emails received", "tickets sold"])
        did = {"questions on a quiz": "were answered correctly", "seeds planted": "sprouted",
               "free throws": "went in", "emails received": "were spam", "tickets sold": "were for the front row"}[what]
        return f"Out of {total} {what}, {part} {did}. What percentage is that?", ("share", total, part, what)
    if kind == 3:
        a = rng.randint(2, 20) * 10
        p = rng.choice([10, 20, 25, 50])
        up = pick(rng, ["rises", "falls"])
        b = a + a * p // 100 if up == "rises" else a - a * p // 100
        return f"A price {up} from ${a} to ${b}. By what percent did it change?", ("chg", a, b)
    bill = rng.randint(12, 120)
    tip = rng.choice([10, 15, 20])
    return f"A restaurant bill is ${bill}. How much is a {tip}% tip?", ("tip", bill, tip)


def gen_math_geometry(rng):
    kind = rng.randrange(7)
    if kind == 0:
        w, h = rng.randint(2, 30), rng.randint(2, 30)
        what = pick(rng, ["area", "perimeter"])
        return f"A rectangle is {w} cm wide and {h} cm long. What is its {what}?", ("rect", w, h, what)
    if kind == 1:
        s = rng.randint(2, 25)
        what = pick(rng, ["area", "perimeter"])
        return f"What is the {what} of a square with sides of {s} meters?", ("sq", s, what)
    if kind == 2:
        b, h = rng.randint(2, 20) * 2, rng.randint(2, 20)
        return f"A triangle has a base of {b} cm and a height of {h} cm. What is its area?", ("tri", b, h)
    if kind == 3:
        r = rng.randint(1, 15)
        what = pick(rng, ["area", "circumference"])
        return f"Using 3.14 for pi, what is the {what} of a circle with radius {r} cm?", ("circ", r, what)
    if kind == 4:
        s = rng.randint(2, 12)
        return f"What is the volume of a cube with edges {s} cm long?", ("cube", s)
    if kind == 5:
        a = rng.randint(20, 100)
        b = rng.randint(20, 150 - a)
        return f"Two angles of a triangle measure {a} and {b} degrees. What is the third angle?", ("ang", a, b)
    l, w, h = rng.randint(2, 10), rng.randint(2, 10), rng.randint(2, 10)
    return f"A box is {l} cm long, {w} cm wide and {h} cm tall. What is its volume?", ("box", l, w, h)


def gen_math_misc(rng):
    kind = rng.randrange(5)
    if kind == 0:
        k = rng.randint(3, 6)
        while True:
            nums = [rng.randint(2, 60) for _ in range(k)]
            if sum(nums) % k == 0:
                break
        listing = ", ".join(map(str, nums))
        return f"What is the average of {listing}?", ("avg", tuple(nums))
    if kind == 1:
        x, y = pick(rng, [("boys", "girls"), ("cats", "dogs"), ("red beads", "blue beads"),
                          ("cups of water", "cups of rice"), ("apples", "pears")])
        a, b = rng.randint(1, 5), rng.randint(1, 5)
        while b == a:
            b = rng.randint(1, 5)
        n = a * rng.randint(2, 8)
        return f"The ratio of {x} to {y} is {a}:{b}. If there are {n} {x}, how many {y} are there?", ("ratio", x, a, b, n)
    if kind == 2:
        h, m = rng.randint(1, 11), rng.choice([0, 10, 15, 20, 30, 40, 45])
        d = rng.choice([45, 80, 95, 110, 125, 150])
        event = pick(rng, ["A movie", "A football match", "A concert", "A train journey", "A class"])
        return f"{event} starts at {h}:{m:02d} and lasts {d} minutes. What time does it end?", ("time", h, m, d, event)
    if kind == 3:
        a = pick(rng, NAMES)
        rate, hours = rng.randint(8, 25), rng.randint(3, 9)
        return f"{a} earns ${rate} an hour and works {hours} hours. How much does {a} earn?", ("wage", rate, hours)
    x = rng.randint(2, 12)
    m, c = rng.randint(2, 9), rng.randint(1, 30)
    return f"Solve for x: {m}x + {c} = {m * x + c}.", ("lin", m, c, x)


MATH_GENERATORS = [
    (gen_math_arith, 100), (gen_math_word, 170), (gen_math_units, 60),
    (gen_math_percent, 60), (gen_math_geometry, 45), (gen_math_misc, 40),
]

MATH_HANDWRITTEN = [
    "What is the smallest number that is divisible by 2, 3, 4 and 5?",
    "How many minutes are there in a full day?",
    "If today is Wednesday, what day of the week will it be in 10 days?",
    "What are the first five multiples of 7?",
    "Explain how to find the perimeter of a shape with straight sides.",
    "What is the difference between an even and an odd number? Give examples.",
    "How many seconds are there in one hour? Show your working.",
    "Which is larger, 3/4 or 2/3? Explain how you know.",
    "Write 0.625 as a fraction in its simplest form.",
    "What is the next number in the sequence 2, 6, 12, 20, 30?",
    "How many edges does a cube have?",
    "Explain what a prime number is and list the primes below 30.",
    "A clock shows 3:00. What is the angle between the hour hand and the minute hand?",
    "How many different ways can you arrange the letters A, B and C?",
    "Explain what a negative number is using a thermometer as an example.",
    "What is 1000 minus 1, and why is it easy to compute in your head?",
    "If you flip a fair coin twice, what is the chance of getting two heads?",
    "How do you find the mean, median and mode of a set of numbers?",
    "What is 12.5% written as a decimal and as a fraction?",
    "A pizza is cut into 8 equal slices and 3 are eaten. What fraction of the pizza is left?",
    "How many centimeters tall is a person who is 1.72 meters tall?",
    "What is the sum of the whole numbers from 1 to 20?",
    "Explain how to multiply a number by 11 in your head.",
    "Convert the binary number 1101 to decimal.",
    "Is 0 an even number? Explain.",
]


# ---------------------------------------------------------------------------
# EXPLAIN
# ---------------------------------------------------------------------------

# Things that "work": "Explain how {x} works."
PROCESS_NOUNS = [
    "photosynthesis", "the water cycle", "a vaccine", "digestion", "a compass",
    "GPS", "Wi-Fi", "a solar panel", "an electric motor", "a thermostat",
    "the immune system", "a submarine", "a hot air balloon", "a bicycle's gears",
    "a car engine", "a car's brakes", "a touchscreen", "a digital camera",
    "a search engine", "encryption", "a QR code", "a barcode scanner",
    "a 3D printer", "composting", "a fire extinguisher", "an elevator",
    "a pin tumbler lock", "the human eye", "the ear", "antibiotics", "a dam",
    "a lighthouse", "a parachute", "a telescope", "a microscope", "a thermometer",
    "a loudspeaker", "noise-cancelling headphones", "an induction stove",
    "a washing machine", "a dishwasher", "a vacuum cleaner", "a smoke detector",
    "a pressure cooker", "a credit card payment", "a bank loan", "interest on savings",
    "supply and demand", "inflation", "an election", "a jury trial",
    "the postal system", "a traffic light system", "the stock market", "insurance",
    "pollination", "a food chain", "evolution by natural selection", "memory",
    "a refrigerator", "a microwave oven", "a wind turbine", "a rocket",
    "a heat pump", "a bicycle pump", "a sewing machine", "a wind-up toy",
    "a hearing test", "a library lending system", "public transport ticketing",
]

# Complete clauses: "Explain how {x}."
PROCESS_CLAUSES = [
    "a rainbow forms", "the heart pumps blood", "an airplane stays in the air",
    "a battery stores energy", "the moon goes through its phases", "ocean tides rise and fall",
    "earthquakes happen", "a volcano erupts", "the seasons change", "clouds form",
    "lightning forms in a storm", "a rocket reaches orbit", "email gets delivered",
    "recycled plastic becomes something new", "bees make honey", "birds find their way when they migrate",
    "a caterpillar turns into a butterfly", "a seed grows into a plant", "yeast makes bread rise",
    "soap removes dirt", "muscles move the body", "the lungs take in oxygen",
    "the kidneys clean the blood", "a fever helps fight infection", "sleep helps the brain",
    "a bridge holds up its weight", "a sailboat moves against the wind", "fossils form",
    "coral reefs grow", "a glacier moves", "sand dunes move", "a hurricane forms",
    "snowflakes form", "fog forms", "a geyser erupts", "rust forms on iron",
    "a candle burns", "salt melts ice on roads", "a magnet attracts iron",
    "static electricity builds up", "an echo happens", "a cell divides",
    "DNA stores information", "a habit forms", "a tree grows taller each year",
]

NOUN_PHRASINGS = [
    "Explain how {x} works in simple terms.",
    "How does {x} work? Keep it short.",
    "Explain how {x} works to a ten-year-old.",
    "In a few sentences, how does {x} work?",
]

CLAUSE_PHRASINGS = [
    "Explain how {x} in simple terms.",
    "Explain step by step how {x}.",
    "Can you explain briefly how {x}?",
]


def gen_explain_how(rng):
    i = rng.randrange(len(PROCESS_NOUNS) + len(PROCESS_CLAUSES))
    if i < len(PROCESS_NOUNS):
        x = PROCESS_NOUNS[i]
        return pick(rng, NOUN_PHRASINGS).format(x=x), ("how", x)
    x = PROCESS_CLAUSES[i - len(PROCESS_NOUNS)]
    return pick(rng, CLAUSE_PHRASINGS).format(x=x), ("how", x)


DIFFERENCES = [
    ("a virus", "a bacterium"), ("weather", "climate"), ("a comet", "an asteroid"),
    ("a planet", "a star"), ("an alligator", "a crocodile"), ("a frog", "a toad"),
    ("a hurricane", "a tornado"), ("speed", "velocity"), ("mass", "weight"),
    ("an atom", "a molecule"), ("a fruit", "a vegetable"), ("a lake", "a pond"),
    ("a mountain", "a hill"), ("a democracy", "a monarchy"), ("a simile", "a metaphor"),
    ("a noun", "a verb"), ("an ocean", "a sea"), ("a moth", "a butterfly"),
    ("a rabbit", "a hare"), ("a dolphin", "a shark"), ("a cold", "the flu"),
    ("an herbivore", "a carnivore"), ("renewable energy", "non-renewable energy"),
    ("a continent", "a country"), ("a city", "a town"), ("a poem", "a song"),
    ("baking", "roasting"), ("a debit card", "a credit card"), ("saving", "investing"),
    ("a want", "a need"), ("an introvert", "an extrovert"), ("a fact", "an opinion"),
    ("a hypothesis", "a theory"), ("a solid", "a liquid"), ("melting", "dissolving"),
    ("a physical change", "a chemical change"), ("an insect", "a spider"),
    ("a reptile", "an amphibian"), ("a mammal", "a bird"), ("a meteor", "a meteorite"),
    ("a solar eclipse", "a lunar eclipse"), ("an artery", "a vein"),
    ("AC", "DC electricity"), ("a conductor", "an insulator"), ("heat", "temperature"),
    ("a biography", "an autobiography"), ("fiction", "non-fiction"),
    ("a museum", "a gallery"), ("a novel", "a short story"), ("a recipe", "a menu"),
    ("a goal", "a dream"), ("a loan", "a gift"), ("latitude", "longitude"),
    ("a bay", "a gulf"), ("a river", "a stream"), ("a desert", "a tundra"),
    ("a glacier", "an iceberg"), ("an earthquake", "a tsunami"), ("a moon", "a planet"),
    ("a laptop", "a tablet"), ("hardware", "software"), ("the internet", "the web"),
    ("a router", "a modem"), ("a password", "a passkey"), ("a podcast", "a radio show"),
    ("jam", "jelly"), ("tea", "coffee"), ("a violin", "a cello"), ("a sprint", "a marathon"),
    ("yoga", "pilates"), ("a hobby", "a job"), ("a township", "a county"),
    ("an adjective", "an adverb"), ("a vowel", "a consonant"), ("a dialect", "a language"),
]

DIFF_PHRASINGS = [
    "What is the difference between {a} and {b}?",
    "How is {a} different from {b}?",
    "Explain the main differences between {a} and {b}.",
    "{A} versus {b}: what sets them apart?",
]


def gen_explain_diff(rng):
    a, b = pick(rng, DIFFERENCES)
    if rng.random() < 0.5:
        a, b = b, a
    form = pick(rng, DIFF_PHRASINGS)
    return form.format(a=a, b=b, A=a[0].upper() + a[1:]), ("diff", tuple(sorted((a, b))))


WHY_QUESTIONS = [
    "Why is the sky blue?", "Why do leaves change color in autumn?",
    "Why do we have day and night?", "Why does the moon look different each night?",
    "Why do cats purr?", "Why do onions make people cry?", "Why is the ocean salty?",
    "Why do we yawn?", "Why do birds fly south for the winter?",
    "Why does bread go stale?", "Why do stars twinkle?", "Why do we get goosebumps?",
    "Why does ice float?", "Why do bicycles stay upright when moving?",
    "Why do we need to drink water?", "Why do some animals hibernate?",
    "Why do mirrors reverse left and right but not up and down?",
    "Why does metal feel colder than wood at the same temperature?",
    "Why do planes leave white trails in the sky?", "Why does popcorn pop?",
    "Why do our fingers wrinkle in water?", "Why do dogs wag their tails?",
    "Why is it colder on top of a mountain?", "Why do we sneeze?",
    "Why do apples turn brown after they are cut?", "Why do zebras have stripes?",
    "Why does thunder come after lightning?", "Why do we have different time zones?",
    "Why do volcanoes form near the edges of tectonic plates?",
    "Why do some people need glasses?", "Why do our ears pop on airplanes?",
    "Why is exercise good for the heart?", "Why do plants need sunlight?",
    "Why do cuts heal?", "Why do some trees lose their leaves while others do not?",
    "Why does a spoon look bent in a glass of water?", "Why do we dream?",
    "Why is Mars red?", "Why do we have leap years?", "Why do tomatoes ripen faster in a paper bag?",
    "Why does sound travel faster in water than in air?", "Why do giraffes have long necks?",
    "Why do hiccups happen?", "Why is the Dead Sea so easy to float in?",
    "Why do clocks go clockwise?", "Why do pineapples make your tongue tingle?",
    "Why does hot air rise?", "Why are most plants green?", "Why do owls hunt at night?",
    "Why does a balloon stick to the wall after you rub it on your hair?",
    "Why do penguins not get cold feet?", "Why do we forget things?",
    "Why does a kettle whistle?", "Why do camels have humps?",
    "Why do wet clothes dry faster on a windy day?", "Why do shadows get longer in the evening?",
    "Why do deserts get cold at night?", "Why is recycling important?",
    "Why do we brush our teeth?", "Why do cities feel warmer than the countryside?",
    "Why do boats float even though they are heavy?", "Why do we have eyebrows?",
    "Why do snakes shed their skin?", "Why does chocolate melt in your hand?",
    "Why do bubbles look rainbow-colored?", "Why do bees dance?",
    "Why is sleep important for students?", "Why do we have fingerprints?",
    "Why do the stars move across the sky during the night?", "Why do fireflies glow?",
]


def gen_explain_why(rng):
    q = pick(rng, WHY_QUESTIONS)
    suffix = pick(rng, ["", "", " Answer in two or three sentences.", " Explain it simply."])
    return q + suffix, ("why", q)


CONCEPTS = [
    "gravity", "inertia", "friction", "energy", "electricity", "magnetism",
    "an ecosystem", "a black hole", "a galaxy", "a light-year", "a cell",
    "a gene", "an allergy", "a calorie", "protein", "a vitamin", "metabolism",
    "an atom", "an element", "the periodic table", "a chemical reaction",
    "an acid", "oxygen", "carbon dioxide", "the greenhouse effect",
    "biodiversity", "an endangered species", "erosion", "a fossil",
    "plate tectonics", "a watershed", "the ozone layer", "humidity",
    "air pressure", "a budget", "a tax", "a stock", "a mortgage",
    "compound interest", "a currency", "a trade", "a supply chain",
    "a constitution", "a parliament", "a human right", "a census",
    "a map scale", "a time zone", "the equator", "a hemisphere",
    "the solar system", "an orbit", "a satellite", "a telescope",
    "a hypothesis", "the scientific method", "an experiment", "a control group",
    "an average", "probability", "a graph", "a percentage",
    "artificial intelligence", "machine learning", "a computer virus", "the cloud",
    "a password manager", "two-factor authentication", "a browser cookie", "a pixel",
    "a haiku", "a metaphor", "alliteration", "a plot twist", "a protagonist",
    "an orchestra", "rhythm", "a melody", "perspective in drawing", "a primary source",
    "democracy", "a museum curator", "an architect", "a renewable resource",
    "a carbon footprint", "a wetland", "a rainforest", "a coral reef",
    "a tide pool", "a food web", "a predator", "camouflage", "symbiosis",
    "a placebo", "a pulse", "blood pressure", "the nervous system", "a reflex",
    "mindfulness", "procrastination", "empathy", "a growth mindset", "teamwork",
    "a habit", "an idiom", "a palindrome", "a proverb", "an anagram",
    "the speed of light", "a sound wave", "an echo", "an optical illusion",
    "a lever", "a pulley", "a wheel and axle", "buoyancy", "density",
    "evaporation", "condensation", "a solution", "a mixture", "a magnet",
]

AUDIENCES = ["", " to a child", " to a beginner", " using an everyday example", " in one paragraph"]

WHATIS_PHRASINGS = [
    "What is {c}?", "What is {c}? Explain it{aud}.", "Explain what {c} is{aud}.",
    "Can you explain what {c} is{aud}?", "Give me a short explanation of {c}.",
]


def gen_explain_whatis(rng):
    c = pick(rng, CONCEPTS)
    aud = pick(rng, AUDIENCES)
    form = pick(rng, WHATIS_PHRASINGS)
    if not aud and "{aud}" in form:
        aud = " in simple words"
    return form.format(c=c, aud=aud), ("whatis", c)


ROLES = [
    ("the heart", "the human body"), ("the liver", "the human body"), ("the skin", "the human body"),
    ("red blood cells", "the body"), ("white blood cells", "the body"), ("the brain", "the nervous system"),
    ("bones", "the human body"), ("teeth", "digestion"), ("saliva", "digestion"),
    ("roots", "a plant"), ("leaves", "a plant"), ("flowers", "a plant"),
    ("worms", "the soil"), ("bees", "farming"), ("fungi", "a forest"),
    ("plankton", "the ocean"), ("wolves", "an ecosystem"), ("the sun", "life on Earth"),
    ("the moon", "ocean tides"), ("the atmosphere", "protecting the Earth"),
    ("a referee", "a football match"), ("a conductor", "an orchestra"), ("an editor", "a newspaper"),
    ("a librarian", "a school"), ("a mayor", "a city"), ("a central bank", "an economy"),
    ("a goalkeeper", "a football team"), ("a director", "a film"), ("a nurse", "a hospital"),
    ("a firefighter", "a community"), ("a map", "a hike"), ("a keel", "a sailboat"),
    ("a CPU", "a computer"), ("memory (RAM)", "a computer"), ("a router", "a home network"),
    ("a fuse", "an electrical circuit"), ("a thermostat", "a heating system"),
    ("a dictionary", "learning a language"), ("practice", "learning a musical instrument"),
    ("a table of contents", "a book"), ("a thesis statement", "an essay"),
    ("the chorus", "a song"), ("the narrator", "a story"), ("a vaccine", "public health"),
    ("a compass rose", "a map"), ("chlorophyll", "a leaf"), ("mitochondria", "a cell"),
    ("the ozone layer", "the atmosphere"), ("trees", "a city"), ("rivers", "early civilizations"),
]


PLURAL_ROLES = {
    "red blood cells", "white blood cells", "bones", "teeth", "roots", "leaves",
    "flowers", "worms", "bees", "fungi", "wolves", "trees", "rivers", "mitochondria",
}


def gen_explain_role(rng):
    x, y = pick(rng, ROLES)
    be = "are" if x in PLURAL_ROLES else "is"
    form = pick(rng, ["What is the role of {x} in {y}?", "Briefly describe the job of {x} in {y}.",
                      "Why {be} {x} important for {y}?"])
    return form.format(x=x, y=y, be=be), ("role", x, y)


EXAMPLE_TOPICS = [
    "a chemical change in the kitchen", "a lever in everyday life", "camouflage in nature",
    "a renewable energy source", "an animal that hibernates", "a simile in a sentence",
    "a food chain in a pond", "supply and demand at a market", "friction being useful",
    "friction being a problem", "a habit that saves time", "a mammal that lives in the sea",
    "a fair rule in a game", "a polite way to disagree", "static electricity at home",
    "an optical illusion", "a symbiotic relationship between two animals", "evaporation in daily life",
    "a natural resource", "a word with a prefix", "a compound word", "a metaphor about time",
    "an invention that changed travel", "a plant that grows in deserts", "a budget for a week",
    "a sound that travels through a solid", "a good scientific question", "a machine with a pulley",
    "a nocturnal animal", "an element from the periodic table used every day",
    "a solution and a mixture", "an idiom and its meaning", "condensation you can see at home",
    "a safe password", "a positive feedback loop", "the scientific method in a home experiment",
    "an adaptation that helps an animal survive winter", "a good topic sentence", "a biased headline",
    "probability in a board game", "a symbol in a flag", "density with things that float or sink",
    "a predator and its prey", "inertia on a bus", "a reflex",
]


def gen_explain_example(rng):
    t = pick(rng, EXAMPLE_TOPICS)
    form = pick(rng, ["Give a simple example of {t}.", "Give an example of {t} and explain it briefly.",
                      "What is a good example of {t}?"])
    return form.format(t=t), ("example", t)


PROS_CONS = [
    "electric cars", "working from home", "school uniforms", "living in a big city",
    "online shopping", "reading e-books instead of paper books", "solar power",
    "nuclear power", "public transport", "homework", "social media for teenagers",
    "having a pet dog", "learning a second language early", "team sports",
    "renting a home versus buying one", "using a credit card", "remote learning",
    "wind farms", "self-checkout machines", "a four-day work week", "zoos",
    "video games", "tap water versus bottled water", "cycling to work", "smart speakers",
    "open-plan offices", "a gap year before university", "plant-based diets",
    "streaming music instead of buying albums", "traveling by train instead of plane",
    "cash versus card payments", "keeping a diary", "group projects at school",
    "early morning exercise", "tiny houses", "e-scooters in cities",
]


def gen_explain_proscons(rng):
    t = pick(rng, PROS_CONS)
    form = pick(rng, ["What are the pros and cons of {t}?", "List two advantages and two disadvantages of {t}.",
                      "Give a balanced view of {t} in a few sentences."])
    return form.format(t=t), ("pc", t)


EXPLAIN_GENERATORS = [
    (gen_explain_how, 105), (gen_explain_diff, 72), (gen_explain_why, 65),
    (gen_explain_whatis, 112), (gen_explain_role, 45), (gen_explain_example, 42),
    (gen_explain_proscons, 34),
]

EXPLAIN_HANDWRITTEN = [
    "Explain how the internet gets from a server to your phone.",
    "What causes the northern lights?",
    "How do noise, music and speech differ as sound waves?",
    "Explain in simple terms what a calendar year is and why it has 365 days.",
    "What did the printing press change about the world?",
    "How do people figure out the age of a tree?",
    "What is the difference between hearing and listening?",
    "Explain why it is a good idea to wash your hands with soap.",
    "What makes a good habit easier to keep?",
    "Explain how a map uses symbols to show information.",
    "How do scientists name new species?",
    "What is the purpose of a museum?",
    "How do trains stay on their tracks?",
    "Explain the basic rules of chess in a short paragraph.",
    "What is the difference between a city park and a national park?",
    "How do hearing aids help people hear?",
    "What are the main parts of a flower and what does each do?",
    "Why do different countries drive on different sides of the road?",
    "Explain what a food label tells you.",
    "What is the difference between a sunrise and a sunset in terms of what the Earth is doing?",
    "How do honeybees communicate with each other?",
    "What is the role of a good night's sleep in learning?",
    "Explain what happens to rain after it falls on a city.",
    "How does a library decide where to put a book on the shelf?",
    "What is the difference between a prime minister and a president?",
]


# ---------------------------------------------------------------------------
# CHAT
# ---------------------------------------------------------------------------

POEM_TOPICS = [
    "the ocean at night", "a rainy Monday", "a cup of tea", "an old bicycle",
    "the first snow of winter", "a lighthouse", "a cat asleep in the sun",
    "a busy train station", "autumn leaves", "a city at dawn", "a lost umbrella",
    "the moon over a lake", "a garden in spring", "friendship", "a long road trip",
    "a thunderstorm", "a library", "a kite on a windy day", "a sleepy dog",
    "a mountain sunrise", "homemade bread", "a quiet forest", "the smell of coffee",
    "a paper boat", "a summer picnic", "a grandmother's kitchen", "stars in the desert",
    "a snail's journey", "the last day of school", "a new pair of shoes",
    "a bumblebee", "a candle in the dark", "a farmers' market", "a river in flood",
    "an empty playground", "a hot air balloon", "the sound of rain on a roof",
    "a fox in the snow", "the first day at a new job", "a sunflower field",
    "a tired robot", "a jar of fireflies", "an old photograph", "the sea breeze",
    "a lonely cloud", "a marathon runner", "a birthday cake", "a rooftop garden",
    "a foggy harbor", "a cup of hot chocolate", "a moving day", "an owl at midnight",
    "a snowman melting", "the wind in tall grass", "a street musician",
]

POEM_FORMS = [
    "Write a short poem about {t}.", "Write a haiku about {t}.",
    "Write a four-line rhyming poem about {t}.", "Write a limerick about {t}.",
    "Write a cheerful short poem about {t}.", "Write a calm, gentle poem about {t} in six lines.",
]


def gen_chat_poem(rng):
    t, form = pick(rng, POEM_TOPICS), pick(rng, POEM_FORMS)
    return form.format(t=t), ("poem", t, form)


CHARACTERS = [
    "a shy dragon", "a retired astronaut", "a curious robot", "a lighthouse keeper",
    "a talking cat", "a young baker", "a forgetful wizard", "a brave snail",
    "a lonely scarecrow", "a penguin dreaming of flight", "a rock-collecting girl",
    "an old fisherman", "a clumsy knight", "a mail carrier on a small island",
    "a tiny mouse in a big library", "a street musician", "a sleepy bear",
    "a kid inventor", "a friendly ghost", "a marathon-running grandmother",
    "a firefly afraid of the dark", "a cloud dreaming of becoming a rainbow",
    "a taxi driver", "a bus driver on the night shift", "a cactus in a flower shop",
]

EVENTS = [
    "finds a mysterious map", "makes a new friend", "gets lost in a city",
    "learns to ride a bicycle", "discovers a hidden door", "wins a baking contest",
    "helps a stranger", "loses something important", "plants a magic seed",
    "goes on a first trip to the sea", "has to give a speech", "wakes up with a new talent",
    "finds a lost puppy", "builds a treehouse", "solves a small mystery",
    "meets their hero", "misses the last train home", "starts a garden on a balcony",
    "teaches a grumpy neighbor to dance", "finds a message in a bottle", "opens a tiny bookshop",
    "gets stuck in an elevator with a stranger", "learns to whistle", "writes a letter to the moon",
]

STORY_FORMS = [
    "Write a short story about {c} who {e}.",
    "Tell me a very short story about {c} who {e}.",
    "Write a five-sentence story about {c} who {e}.",
    "Write a bedtime story about {c} who {e}. Keep it short.",
]


def gen_chat_story(rng):
    c, e = pick(rng, CHARACTERS), pick(rng, EVENTS)
    return pick(rng, STORY_FORMS).format(c=c, e=e), ("story", c, e)


EMAIL_TO = [
    "my manager", "a teacher", "my landlord", "a coworker", "a client",
    "my neighbor", "a hotel", "a customer support team", "my team", "a friend",
]

EMAIL_ABOUT = [
    "asking for a day off next Friday", "saying I will be late to a meeting",
    "thanking them for their help last week", "asking to reschedule our call",
    "reporting a broken heater", "asking about a late delivery",
    "inviting them to a small farewell lunch", "following up on an unanswered question",
    "apologizing for missing a deadline", "requesting a copy of an invoice",
    "asking for feedback on a draft", "confirming a booking for two nights",
    "introducing myself as a new member of the team", "declining an invitation politely",
    "asking for a recommendation letter", "sharing the notes from today's meeting",
]


def gen_chat_email(rng):
    to, about = pick(rng, EMAIL_TO), pick(rng, EMAIL_ABOUT)
    form = pick(rng, ["Write a short email to {to} {about}.",
                      "Help me write a polite email to {to} {about}.",
                      "Draft a brief, friendly email to {to} {about}."])
    return form.format(to=to, about=about), ("email", to, about)


TIP_ACTIVITIES = [
    "falling asleep faster", "saving money on groceries", "learning to cook",
    "starting to run", "keeping a plant alive", "studying for an exam",
    "making new friends in a new city", "staying focused while working from home",
    "packing light for a trip", "writing a good cover letter", "public speaking",
    "learning a new language", "keeping a tidy desk", "drinking more water",
    "reading more books", "getting better at drawing", "taking better phone photos",
    "preparing for a job interview", "organizing a birthday party", "camping for the first time",
    "keeping a journal", "cooking rice perfectly", "learning to play the guitar",
    "being more patient", "reducing screen time", "traveling on a budget",
    "growing tomatoes", "writing a short story", "staying calm before a test",
    "getting up early", "managing a busy week", "making a good first impression",
    "caring for a new puppy", "moving to a new apartment", "decluttering a closet",
    "hosting a dinner for friends", "riding a bike in the city", "building a reading habit",
    "writing clear emails", "giving a good toast at a wedding", "cooking for one person",
    "staying warm in winter", "staying cool in a heatwave", "planning a picnic",
    "practicing gratitude", "making a monthly budget", "getting started with yoga",
    "learning to swim as an adult", "making small talk", "staying motivated to exercise",
]


def gen_chat_tips(rng):
    a = pick(rng, TIP_ACTIVITIES)
    form = pick(rng, ["Give me some tips for {a}.", "What are three good tips for {a}?",
                      "Do you have any advice for {a}?", "I need help with {a}. Any suggestions?"])
    return form.format(a=a), ("tips", a)


RECOMMEND = [
    "a board game for a family of four", "a hobby I can do at home",
    "a healthy breakfast that takes five minutes", "a houseplant that is hard to kill",
    "a name for a goldfish", "a fun weekend activity for kids", "an easy dinner with pasta",
    "a gift for a friend who loves cooking", "a gift for a coworker under 20 dollars",
    "a warm-up routine before a run", "a relaxing thing to do on a rainy day",
    "a snack for a long car ride", "a theme for a birthday party", "an easy dessert without an oven",
    "a way to celebrate finishing a big project", "a quiet place to study",
    "a simple vegetable to grow on a balcony", "an indoor game for a group of friends",
    "a morning routine for a busy student", "a kind of tea to try",
    "a short walking route idea in a new town", "a fun way to learn geography",
    "something to cook with leftover rice", "a thoughtful thank-you gift for a teacher",
    "a good first instrument for an adult", "a classic kind of book to read on holiday",
    "a cheap date idea", "a simple craft for a rainy afternoon", "a lunch I can pack for work",
    "an activity for a family reunion",
]


def gen_chat_recommend(rng):
    t = pick(rng, RECOMMEND)
    form = pick(rng, ["Can you recommend {t}?", "Suggest {t}.", "What would you recommend as {t}?"])
    return form.format(t=t), ("rec", t)


SENTENCES = [
    "i cant come to the meeting tomorrow because im busy.",
    "The report is late and we are sorry about that.",
    "Give me the file now.",
    "We have decided to not go ahead with your application.",
    "The food was okay but the service was really slow.",
    "Your package will arrive sometime next week probably.",
    "The meeting was long and boring and nobody decided anything.",
    "Please stop leaving dishes in the sink.",
    "I think maybe we should possibly change the plan.",
    "The weather today is very very nice.",
    "Our product is good and people like it.",
    "He ran fast to the store because he needed milk.",
    "The new park has many trees and a small pond.",
    "Thanks for the gift, I liked it.",
    "The train was late again this morning.",
    "We need more volunteers for the weekend cleanup.",
    "The movie was long but the ending was great.",
    "Can you send me the numbers by Friday?",
    "The cat sat on the warm windowsill all afternoon.",
    "Our team finished the project two days early.",
]

STYLES = ["more polite", "more formal", "more friendly", "more concise",
          "more exciting", "more professional", "simpler", "more persuasive"]


def gen_chat_rewrite(rng):
    s, st = pick(rng, SENTENCES), pick(rng, STYLES)
    form = pick(rng, ["Rewrite this sentence to sound {st}: \"{s}\"",
                      "Make this sentence {st}: \"{s}\"",
                      "Can you rephrase this so it sounds {st}? \"{s}\""])
    return form.format(s=s, st=st), ("rw", s, st)


IDEAS = [
    ("a name", "a small coffee shop by the sea"), ("a name", "a neighborhood book club"),
    ("a name", "a friendly robot character"), ("a name", "a bakery that sells only bread"),
    ("a slogan", "a bicycle repair shop"), ("a slogan", "a recycling campaign at school"),
    ("a slogan", "a local farmers' market"), ("a title", "a mystery novel set on a train"),
    ("a title", "a podcast about cooking on a budget"), ("a title", "a children's book about a brave ant"),
    ("three ideas", "a science fair project"), ("three ideas", "a team-building activity"),
    ("three ideas", "a short weekend trip"), ("three ideas", "a rainy-day activity with kids"),
    ("three ideas", "a creative birthday card message"), ("a few ideas", "a garden on a small balcony"),
    ("a few ideas", "things to write in a journal"), ("a few ideas", "a school newsletter story"),
    ("a motto", "a running club"), ("a motto", "a study group"),
    ("a name", "a pet hamster"), ("a name", "a fantasy kingdom"), ("a title", "a travel blog"),
    ("a few questions", "a getting-to-know-you game"), ("a catchy headline", "a lost cat poster"),
    ("a short caption", "a photo of a sunset at the beach"), ("a short toast", "a friend's graduation"),
    ("a short speech opening", "a school assembly"), ("a riddle", "the moon"), ("a joke", "vegetables"),
]


def gen_chat_ideas(rng):
    what, for_ = pick(rng, IDEAS)
    sep = "about" if what in ("a riddle", "a joke") else "for"
    form = pick(rng, ["Suggest {w} {sep} {f}.", "Can you come up with {w} {sep} {f}?"])
    return form.format(w=what, sep=sep, f=for_), ("idea", what, for_)


SMALL_TALK = [
    "Hi! How are you today?", "Good morning! Any ideas for a nice day?",
    "Hello, can you tell me a little about yourself?", "Hey, I'm bored. Can you cheer me up?",
    "What's a fun fact you can share with me?", "Tell me a joke about cats.",
    "I just finished a big exam. What should I do to relax?", "Can you say something kind to start my day?",
    "I'm feeling a bit nervous about tomorrow. Any words of encouragement?",
    "What should I name my new houseplant?", "Tell me something interesting about octopuses.",
    "I can't decide between pizza and tacos for dinner. Help!", "Good night! Any tips for a restful sleep?",
    "Can you teach me a new word and how to use it?", "What's a good question to ask someone I just met?",
    "I had a great day today! Want to hear about it?", "Can you give me a riddle to solve?",
    "What's a simple way to make someone smile today?", "Hello! What can you help me with?",
    "Tell me a short, funny story about a penguin.", "Say hello to my friend Sam, it's his birthday!",
    "I'm learning to bake. What should I try first?", "What is your favorite season and why?",
    "Can you help me think of a nice message for a sympathy card?",
    "I'm starting a new job on Monday. How should I prepare?",
    "What are some fun things to do on a lazy Sunday?", "Give me a compliment!",
    "I'm tired of my daily routine. Any ideas to shake it up?", "Hey there! Tell me a tongue twister.",
    "Can you describe a perfect autumn afternoon?", "Thank you for your help earlier!",
    "Can you give me a motivating quote and explain what it means?",
    "I spilled coffee on my shirt before work. Any quick fixes?", "What's a good way to start a conversation at a party?",
    "How do I politely say no to extra work?",
]


def gen_chat_smalltalk(rng):
    s = pick(rng, SMALL_TALK)
    return s, ("st", s)


CHAT_GENERATORS = [
    (gen_chat_poem, 90), (gen_chat_story, 100), (gen_chat_email, 70),
    (gen_chat_tips, 50), (gen_chat_recommend, 30), (gen_chat_rewrite, 70),
    (gen_chat_ideas, 30), (gen_chat_smalltalk, 35),
]

CHAT_HANDWRITTEN = [
    "Write a thank-you note to a neighbor who watered my plants while I was away.",
    "Describe a cozy cabin in the mountains in three sentences.",
    "Write a short product description for a reusable water bottle.",
    "Write a packing list for a two-day hiking trip.",
    "Write a friendly reminder message for a group chat about Saturday's picnic.",
    "Write a two-sentence horror story that is not too scary.",
    "Plan a simple three-day meal plan for a vegetarian.",
    "Write a dialogue between a cat and a dog arguing about who is the better pet.",
    "Write a short speech for a friend's surprise birthday party.",
    "Write an encouraging note to a student who failed a test.",
    "Write a short review of an imaginary restaurant that serves only soup.",
    "Describe the perfect weekend in five sentences.",
    "Write a short welcome message for new members of a hiking club.",
    "Write a postcard from a holiday at the seaside.",
    "Write a grocery list for making a vegetable curry.",
    "Write a polite text message canceling plans with a friend.",
    "Create a simple weekly cleaning schedule for a small apartment.",
    "Write a short bio for a freelance illustrator's website.",
    "Write a fun announcement for a school bake sale.",
    "Write an acrostic poem using the word SMILE.",
    "Imagine you are a tour guide in a tiny village. Welcome the visitors.",
    "Write a short motivational message for someone starting to learn programming.",
    "Write a short apology to a friend for forgetting their birthday.",
    "Write the opening paragraph of an adventure story set in a jungle.",
    "Describe your ideal reading nook.",
]


# ---------------------------------------------------------------------------
# EXTENSION (records 2001 onwards): more templates, topics, lengths and styles,
# plus multi-turn records. Everything below was written for this file.
# ---------------------------------------------------------------------------

EXT_SEED = 20251130
EXT_SINGLE_PER_CATEGORY = 4600   # single-turn records added per category
EXT_MULTI_PER_CATEGORY = 900     # multi-turn records added per category (15% of 6,000)

LANGS_MAIN = ["Python", "Python", "Python", "JavaScript", "JavaScript", "TypeScript",
              "Go", "Rust", "Java", "C", "Ruby", "C#", "Kotlin", "PHP", "Swift"]

NEW_CODE_TASKS = [
    "returns the number of vowels in each word of a sentence",
    "checks whether a list of numbers contains any duplicates",
    "returns the {rank} word in a sentence by length",
    "turns a list of words into a single comma-separated string",
    "returns True if a number is between {lo} and {hi}, inclusive",
    "finds the first character that does not repeat in a string",
    "counts how many words in a sentence have more than {word_len} letters",
    "returns the sum of the numbers from 1 to n that are divisible by {div}",
    "converts a number from 1 to 7 into a day of the week",
    "converts a grade from 0 to 100 into a letter from A to F",
    "returns the number of seconds in a given number of {time_unit}",
    "splits a sentence into words and returns them sorted alphabetically",
    "removes the first and last character of a string",
    "returns the middle character of a string, or the middle two if the length is even",
    "checks whether a string is a valid email address using a simple rule",
    "counts how many times the word '{word}' appears in a text, ignoring case",
    "returns a new list with every element multiplied by {factor}",
    "returns the largest even number in a list, or None if there is none",
    "returns the positions of every occurrence of a character in a string",
    "checks whether a number is a multiple of {div}",
    "returns the number of trailing zeros in an integer",
    "builds a string of n dashes, like '-----' for n = 5",
    "repeats a word n times with a space between each copy",
    "returns how many full weeks fit into a number of days",
    "returns the first n letters of the alphabet as a string",
    "checks whether two strings have the same length",
    "removes every word shorter than {word_len} letters from a sentence",
    "returns the sum of the squares of a list of numbers",
    "returns the absolute difference between two numbers",
    "returns the last digit of an integer",
    "checks whether a number has exactly {digits} digits",
    "returns a list of the numbers from 1 to {mid_n} that are not divisible by {div}",
    "returns the cube of every number in a list",
    "converts a list of Celsius temperatures into Fahrenheit",
    "checks whether a string ends with a question mark",
    "counts the sentences in a paragraph by looking for periods",
    "returns the longest run of the same character in a string",
    "returns the two numbers in a list with the largest sum",
    "returns the total price of a shopping cart given a list of prices and a {tip}% tax",
    "converts a price in cents into a string like '$12.34'",
    "returns the number of {coin}s needed to make an amount in cents",
    "checks whether a string contains at least one uppercase letter",
    "finds the {rank} value in a dictionary of scores",
    "merges two dictionaries, with the second one winning on shared keys",
    "returns the keys of a dictionary whose values are above {threshold}",
    "returns a list of words that have the same first and last letter",
    "counts the even and odd numbers in a list and returns both counts",
    "wraps a long line of text so that no line is longer than {trunc_n} characters",
    "removes leading and trailing spaces from every string in a list",
    "returns the acronym of a phrase, like 'portable network graphics' -> 'PNG'",
]

EXT_SLOTS = {
    "lo": ["1", "10", "18", "50", "100"],
    "hi": ["20", "65", "99", "200", "1000"],
    "div": ["3", "4", "5", "7", "11"],
    "time_unit": ["minutes", "hours", "days", "weeks"],
    "word": ["the", "and", "data", "cat", "sun", "code"],
    "factor": ["2", "3", "10", "-1"],
    "digits": ["3", "4", "5"],
    "coin": ["quarter", "dime", "nickel"],
}

CODE_EXT_PHRASINGS = [
    "Write a {lang} function that {task}.",
    "In {lang}, write a function that {task}.",
    "Could you show me how to write a {lang} function that {task}?",
    "I'm learning {lang}. How would I write a function that {task}?",
    "Give me a {lang} function that {task}.",
    "Write {lang} code for a function that {task}.",
    "Help me write a {lang} function that {task}.",
    "Using {lang}, create a function that {task}.",
    "My homework asks for a {lang} function that {task}. Can you show one and explain it?",
    "Implement a {lang} function that {task}.",
    "What is a clean way to write a {lang} function that {task}?",
    "Write a beginner-friendly {lang} function that {task}.",
]

CODE_CONSTRAINTS = [
    " Include an example call.", " Add a comment on each important line.",
    " Keep it under ten lines.", " Do not use any imports or libraries.",
    " Explain how it works in one or two sentences.", " Use clear variable names.",
    " Show the expected output for one example.", " Handle an empty input sensibly.",
    " Keep the answer short.", " Then explain its time complexity in one sentence.",
    " Give the code first and a one-line explanation after it.",
    " Avoid recursion.", " Add a short docstring or header comment.",
]

CLASS_SPECS = [
    ("Stack", "with push, pop and peek methods"),
    ("Queue", "with enqueue and dequeue methods"),
    ("Rectangle", "with width and height and a method that returns its area"),
    ("Circle", "with a radius and methods for area and circumference"),
    ("ShoppingCart", "that can add items with prices and return the total"),
    ("TodoList", "that can add tasks, mark them done and list the open ones"),
    ("Counter", "with increment, decrement and reset methods"),
    ("Thermostat", "that stores a target temperature and can raise or lower it by one degree"),
    ("Book", "with a title, an author and a method that returns a one-line description"),
    ("Point", "with x and y and a method that returns the distance to another point"),
    ("Timer", "that records a start time and returns the elapsed seconds"),
    ("PiggyBank", "that can add coins and report how much money is inside"),
    ("Student", "with a name and a list of grades and a method that returns the average grade"),
    ("Playlist", "that can add songs, remove songs and return the number of songs"),
    ("Inventory", "that tracks item quantities and can tell whether an item is in stock"),
    ("Dice", "with a number of sides and a roll method"),
    ("TrafficLight", "that cycles from green to yellow to red"),
    ("Library", "that can lend and return books by title"),
    ("Temperature", "that stores Celsius and can report the value in Fahrenheit"),
    ("Scoreboard", "that keeps points for two teams and reports the leader"),
    ("Recipe", "with a name, a list of ingredients and a method that scales the amounts"),
    ("Wallet", "that can spend money only if there is enough balance"),
    ("Garden", "that stores plants and reports which ones need water"),
    ("Password", "that checks whether a password is strong enough"),
]

CLASS_LANGS = ["Python", "Python", "Python", "JavaScript", "TypeScript", "Java", "C#", "Kotlin", "Ruby", "Swift"]

CLASS_PHRASINGS = [
    "Write a {lang} class called {name} {spec}.",
    "Create a simple {name} class in {lang} {spec}.",
    "Show me a small {lang} class named {name} {spec}, and one example of using it.",
    "Design a {lang} class {name} {spec}. Keep it short.",
]


def gen_ext_code_func(rng):
    lang = pick(rng, LANGS_MAIN)
    if rng.random() < 0.45:
        task = pick(rng, NEW_CODE_TASKS)
    else:
        task, py_only = pick(rng, CODE_TASKS)
        while py_only and lang != "Python":
            task, py_only = pick(rng, CODE_TASKS)
    slots = dict(SLOTS)
    slots.update(EXT_SLOTS)
    task = _SLOT_RE.sub(lambda m: pick(rng, slots[m.group(1)]) if m.group(1) in slots else m.group(0), task)
    if lang != "Python":
        task = re.sub(r"\ba (array|object)", r"an \1", to_js(task))
    text = pick(rng, CODE_EXT_PHRASINGS).format(lang=lang, task=task)
    if rng.random() < 0.5:
        text += pick(rng, CODE_CONSTRAINTS)
    return text


def gen_ext_code_class(rng):
    name, spec = pick(rng, CLASS_SPECS)
    text = pick(rng, CLASS_PHRASINGS).format(lang=pick(rng, CLASS_LANGS), name=name, spec=spec)
    if rng.random() < 0.3:
        text += pick(rng, [" Add comments.", " Keep each method to a few lines."] +
                     ([] if "example" in text else [" Include a short usage example."]))
    return text


LANG_FEATURES = {
    "Python": ["enumerate()", "zip()", "an f-string", "list slicing like items[1:4]", "a list comprehension",
               "dict.get()", "try and except", "the with statement", "__init__", "self",
               "*args and **kwargs", "a decorator", "a generator with yield", "range()", "None",
               "a mutable default argument", "tuple unpacking", "a set", "the in operator",
               "a lambda", "map() and filter()", "isinstance()", "the global keyword", "a docstring",
               "the pass statement", "an assert statement", "string methods like strip() and split()",
               "the walrus operator :=", "a virtual environment", "pip", "import", "__name__",
               "a dictionary comprehension", "any() and all()", "sorted() with a key function"],
    "JavaScript": ["let and const", "an arrow function", "the === operator", "Array.map()", "Array.filter()",
                   "Array.reduce()", "a promise", "async and await", "a template literal", "the spread operator",
                   "destructuring", "JSON.stringify()", "addEventListener()", "setTimeout()",
                   "null and undefined", "typeof", "the this keyword", "a callback function", "localStorage",
                   "fetch()", "Array.forEach()", "optional chaining ?.", "a closure", "the DOM",
                   "Object.keys()", "a for...of loop", "strict mode", "a module import"],
    "SQL": ["a JOIN", "GROUP BY", "the HAVING clause", "a primary key", "a foreign key", "an index",
            "DISTINCT", "ORDER BY", "LIMIT", "NULL", "COUNT(*)", "a subquery", "a view", "a transaction",
            "LEFT JOIN", "the LIKE operator"],
    "Git": ["a commit", "a branch", "git merge", "a pull request", "git rebase", "a .gitignore file",
            "git stash", "git clone", "git status", "a merge conflict", "git log", "a remote", "git diff",
            "a tag", "git revert"],
    "HTML and CSS": ["a div", "a span", "the box model", "flexbox", "a CSS class", "an id attribute",
                     "a media query", "the alt attribute", "a form", "margin and padding", "a link tag",
                     "semantic tags like header and footer", "CSS grid", "the z-index property"],
    "the command line": ["cd", "ls", "pwd", "grep", "a pipe |", "chmod", "an environment variable",
                         "sudo", "mkdir -p", "cat", "the PATH variable", "redirecting output with >"],
}

FEATURE_PHRASINGS = [
    "In {lang}, what is {feat}?",
    "What does {feat} do in {lang}?",
    "Explain {feat} in {lang} with a tiny example.",
    "When would I use {feat} in {lang}?",
    "I keep seeing {feat} in {lang} code. What is it for?",
    "Give me a short example of {feat} in {lang} and explain it.",
    "How would you explain {feat} in {lang} to a beginner?",
    "What is a common mistake people make with {feat} in {lang}?",
]

GENERAL_CS = [
    "an API", "JSON", "an HTTP 404 error", "recursion", "Big-O notation", "a unit test",
    "a compiler", "an interpreter", "variable scope", "a stack overflow", "a hash table",
    "a linked list", "binary search", "a race condition", "caching", "version control",
    "an operating system", "a database index", "encryption", "a password hash", "open source software",
    "a bug tracker", "pair programming", "code review", "a framework", "a library", "an IDE",
    "refactoring", "technical debt", "an algorithm", "a data structure", "a boolean",
    "a floating-point number", "an integer overflow", "a pointer", "garbage collection",
    "a thread", "an event loop", "a REST endpoint", "a cookie in a web browser", "a URL",
    "DNS", "an IP address", "a server", "a client", "a cloud service", "a container like Docker",
    "continuous integration", "a regular expression", "a sorting algorithm", "a queue",
    "a tree data structure", "a graph", "pseudocode", "a flowchart", "debugging", "a log file",
    "a configuration file", "an environment variable", "a command-line argument", "Unicode",
    "ASCII", "a byte", "a bit", "a CPU", "RAM", "a cache hit", "latency", "bandwidth",
]

CS_PHRASINGS = [
    "What is {c} in programming?", "Explain {c} in simple words.",
    "Why do programmers care about {c}?", "Give an everyday analogy for {c}.",
    "What is {c}? Answer in two or three sentences.", "Explain {c} to someone new to coding.",
    "In three bullet points, what should a beginner know about {c}?",
    "What is {c}, and can you give one example?",
]


def gen_ext_code_feature(rng):
    if rng.random() < 0.55:
        lang = pick(rng, list(LANG_FEATURES))
        return pick(rng, FEATURE_PHRASINGS).format(lang=lang, feat=pick(rng, LANG_FEATURES[lang]))
    return pick(rng, CS_PHRASINGS).format(c=pick(rng, GENERAL_CS))


PREDICT_PHRASINGS = [
    "What does this Python code print?\n\n```python\n{code}\n```",
    "Predict the output of this Python snippet:\n\n```python\n{code}\n```",
    "What will be printed, and why?\n\n```python\n{code}\n```",
    "Trace this Python code and tell me the output:\n\n```python\n{code}\n```",
]


def _py_snippet(rng):
    k = rng.randrange(14)
    v = pick(rng, VAR_SEQS)
    s = pick(rng, VAR_STRS)
    w = pick(rng, WORDS)
    nums = ", ".join(str(rng.randint(1, 30)) for _ in range(rng.randint(3, 6)))
    a, b = rng.randint(7, 60), rng.randint(2, 9)
    if k == 0:
        return f"{v} = [{nums}]\nprint({v}[1:3])"
    if k == 1:
        return f"{s} = \"{w}\"\nprint(len({s}), {s}.upper())"
    if k == 2:
        return f"print({a} // {b}, {a} % {b})"
    if k == 3:
        return f"{v} = [{nums}]\nprint(sum({v}), max({v}))"
    if k == 4:
        return f"for i in range({b}):\n    if i % 2 == 0:\n        print(i)"
    if k == 5:
        return f"{s} = \"{w}\"\nprint({s}[0] + {s}[-1])"
    if k == 6:
        return f"x = {a}\nx += {b}\nx *= 2\nprint(x)"
    if k == 7:
        return f"{v} = [{nums}]\n{v}.append({b})\nprint(len({v}))"
    if k == 8:
        return f"d = {{\"a\": {a}, \"b\": {b}}}\nprint(d.get(\"c\", 0) + d[\"a\"])"
    if k == 9:
        return f"{s} = \"{w}\"\nprint({s}.count(\"{w[1]}\"))"
    if k == 10:
        return f"print([n * {b} for n in range(1, 4)])"
    if k == 11:
        return f"{v} = [{nums}]\nprint(sorted({v}, reverse=True)[0])"
    if k == 12:
        return f"a = {a}\nb = {b}\nprint(a > b and b > 0)"
    return f"{s} = \"{w} {pick(rng, WORDS)}\"\nprint({s}.split()[1])"


def gen_ext_code_predict(rng):
    return pick(rng, PREDICT_PHRASINGS).format(code=_py_snippet(rng))


REGEX_TARGETS = [
    "a US-style phone number like 555-123-4567", "a date in the form YYYY-MM-DD", "a time like 09:45",
    "a word that starts with a capital letter", "an email address (a simple version)",
    "a hex color code such as #ff8800", "a whole number with optional minus sign",
    "a price like $4.99", "any line that ends with a question mark", "two repeated words in a row",
    "a string made only of letters", "a UK-style postcode (roughly)", "a file name ending in .jpg or .png",
    "an IPv4 address (roughly)", "a hashtag like #summer", "a twitter-style mention like @sam",
]

GIT_TASKS = [
    "undo my last commit but keep the changes", "create a new branch and switch to it",
    "see which files I have changed", "throw away my local changes to one file",
    "rename a branch", "see the history of one file", "delete a branch I no longer need",
    "combine my last three commits into one", "ignore all .log files", "copy a repository from GitHub",
    "save work in progress without committing", "see the difference between two branches",
    "fix the message of my last commit", "get the newest changes from the remote",
    "find which commit introduced a bug", "tag a release as v1.0",
]

SHELL_EXT_TASKS = [
    "finds every file larger than 100 MB in my home folder", "shows how much disk space is free",
    "counts how many files are in a folder", "prints the last 20 lines of a log file",
    "searches every .txt file for the word 'error'", "renames all .jpeg files to .jpg",
    "shows which process is using the most memory", "makes a script executable",
    "creates a compressed archive of a folder", "downloads a file from a URL",
    "sorts the lines of a file and removes duplicates", "shows the current date and time",
    "prints the size of each subfolder", "replaces 'cat' with 'dog' in a text file",
    "lists files sorted by modification time", "follows a log file as new lines are written",
]


TOOL_CONSTRAINTS = [" Explain each part briefly.", " Give one example.", " Keep the answer short.",
                    " Show what it does on a small sample.", " Mention one common pitfall.",
                    " I'm a beginner, so please keep it simple."]


def gen_ext_code_tools(rng):
    text = _code_tool_question(rng)
    if rng.random() < 0.7:
        text += pick(rng, TOOL_CONSTRAINTS)
    return text


def _code_tool_question(rng):
    k = rng.randrange(3)
    if k == 0:
        t = pick(rng, REGEX_TARGETS)
        return pick(rng, ["Write a regular expression that matches {t}.",
                          "Give me a regex for {t}, and explain each part.",
                          "What regular expression would match {t}? Show a Python example using it."]).format(t=t)
    if k == 1:
        t = pick(rng, GIT_TASKS)
        return pick(rng, ["How do I {t} with git?", "What git command do I use to {t}?",
                          "In git, how can I {t}? Show the command.",
                          "I need to {t} in git. What should I type?"]).format(t=t)
    t = pick(rng, SHELL_EXT_TASKS)
    return pick(rng, ["Write a Linux shell command that {t}.", "What bash command {t}?",
                      "Give me a one-line terminal command that {t}, and explain it.",
                      "On macOS or Linux, which command {t}?"]).format(t=t)


BUG_TEMPLATES = [
    ("def total({v}):\n    result = 0\n    for x in {v}:\n        result = x\n    return result", "add up all the numbers in a list"),
    ("def is_adult(age):\n    if age > {n}:\n        return True\n    return False", "return True for people who are {n} or older"),
    ("def first_n({v}, n):\n    return {v}[1:n]", "return the first n items of a list"),
    ("def count_words({s}):\n    return len({s}.split(\",\"))", "count the words in a sentence separated by spaces"),
    ("def square_all({v}):\n    for x in {v}:\n        x = x * x\n    return {v}", "square every number in a list"),
    ("{s} = \"{w}\"\nprint(\"Length: \" + len({s}))", "print the length of a word"),
    ("def average({v}):\n    return sum({v}) / {n}", "return the average of any list"),
    ("def contains({v}, target):\n    for x in {v}:\n        if x == target:\n            return True\n        else:\n            return False", "tell whether a value is anywhere in a list"),
    ("def biggest(a, b):\n    if a > b:\n        return b\n    return a", "return the larger of two numbers"),
    ("count = 0\nwhile count < {n}:\n    print(count)", "print the numbers from 0 to {m}"),
    ("def shout({s}):\n    {s}.upper()\n    return {s}", "return the text in capital letters"),
    ("function double(arr) {{\n  arr.map(n => n * 2);\n  return arr;\n}}", "return a new array with every number doubled"),
    ("const price = \"{n}\";\nconst total = price + 5;\nconsole.log(total);", "add 5 to the price and print the result"),
]


def gen_ext_code_bug(rng):
    code, goal = pick(rng, BUG_TEMPLATES)
    n = rng.randint(3, 21)
    fill = dict(v=pick(rng, VAR_SEQS), s=pick(rng, VAR_STRS), w=pick(rng, WORDS), n=n, m=n - 1)
    code, goal = code.format(**fill), goal.format(**fill)
    form = pick(rng, [
        "This code should {goal}, but it gives the wrong result. What is the bug?\n\n```\n{code}\n```",
        "Can you fix this? It is supposed to {goal}.\n\n```\n{code}\n```",
        "I wrote this to {goal}. Why doesn't it work?\n\n```\n{code}\n```",
        "Spot the mistake in this code, which should {goal}, and show the corrected version.\n\n```\n{code}\n```",
    ])
    return form.format(goal=goal, code=code)


def wrap_old(gen, suffixes, p=0.7):
    """An existing generator with a style or length constraint appended most of the time."""
    def g(rng):
        text, _ = gen(rng)
        if rng.random() < p:
            text += pick(rng, suffixes)
        return text
    g.__name__ = f"wrap_{gen.__name__}"
    return g


EXT_CODE_GENERATORS = [
    (gen_ext_code_func, 1900), (gen_ext_code_class, 350), (gen_ext_code_feature, 900),
    (gen_ext_code_predict, 550), (gen_ext_code_tools, 450), (gen_ext_code_bug, 450),
    (wrap_old(gen_code_howto, CODE_CONSTRAINTS), 300), (wrap_old(gen_code_sql, [
        " Explain the query briefly.", " Keep it to one query.", " Add a comment explaining each clause."]), 150),
    (wrap_old(gen_code_concept, [" Answer in two sentences.", " Give a short example.",
                                 " Use three bullet points.", " Keep it under 60 words."]), 450),
]


MATH_STYLES = [
    " Show your steps.", " Explain your reasoning briefly.", " Give just the final answer.",
    " Show the working in two or three lines.", " Check your answer at the end.",
    " Explain it like you would to a classmate.", " Answer in one sentence.",
    " Use a short step-by-step list.",
]

MATH_OPENERS = ["", "", "", "", "Quick question: ", "Can you help me with this? ",
                "I'm practicing for a test. ", "My little brother asked me this: ",
                "Homework check: ", "Here's a puzzle. "]

PLACES = ["school", "the park", "the library", "the market", "the pool", "work", "the museum",
          "the train station", "the beach", "a friend's house"]
FOODS = ["pizza", "pie", "cake", "lasagna", "chocolate bar", "loaf of bread", "watermelon"]
JOBS = ["paints fences", "walks dogs", "washes cars", "mows lawns", "tutors students", "delivers flyers",
        "babysits", "bakes cookies to sell", "repairs bikes", "sells lemonade"]


def _math_core(r):
    """One self-contained math question (our own numbers and contexts)."""
    k = r.randrange(34)
    a, b = two_names(r)
    thing = pick(r, COUNTABLES)
    if k == 0:
        x, y = round(r.uniform(1, 99), 2), round(r.uniform(1, 99), 2)
        return f"What is {x} + {y}?"
    if k == 1:
        x, y = round(r.uniform(2, 20), 1), r.randint(2, 9)
        return pick(r, ["What is {x} × {y}?", "Multiply {x} by {y}."]).format(x=x, y=y)
    if k == 2:
        p, n = pick(r, [5, 10, 15, 20, 25, 30, 40, 50, 75]), r.randint(2, 40) * 20
        return pick(r, ["What is {p}% of {n}?", "Find {p} percent of {n}.", "How much is {p}% of {n}?"]).format(p=p, n=n)
    if k == 3:
        x, c = r.randint(2, 12), r.randint(1, 30)
        m = r.randint(2, 9)
        return pick(r, ["Solve for x: {m}x + {c} = {t}.", "If {m}x + {c} = {t}, what is x?",
                        "Find x when {m}x + {c} = {t}."]).format(m=m, c=c, t=m * x + c)
    if k == 4:
        x, m = r.randint(2, 15), r.randint(2, 8)
        c = r.randint(1, m * x - 1)
        return f"Solve {m}x - {c} = {m * x - c}."
    if k == 5:
        x, c = r.randint(1, 9), r.randint(1, 12)
        return f"If x = {x}, what is x² + {c}?"
    if k == 6:
        s, d = r.randint(1, 20), r.randint(2, 9)
        seq = ", ".join(str(s + d * i) for i in range(4))
        return pick(r, ["What number comes next: {seq}, ...?", "Find the next number in the pattern {seq}.",
                        "What is the rule for the sequence {seq}, and what comes next?"]).format(seq=seq)
    if k == 7:
        s, q = r.randint(1, 5), r.choice([2, 3])
        seq = ", ".join(str(s * q ** i) for i in range(4))
        return f"What comes next in {seq}? Explain the pattern."
    if k == 8:
        red, blue = r.randint(2, 9), r.randint(2, 9)
        col = pick(r, ["red", "blue"])
        return f"A bag has {red} red marbles and {blue} blue marbles. If you pick one without looking, what is the probability it is {col}?"
    if k == 9:
        t = pick(r, ["an even number", "a number greater than 4", "a 6", "a number less than 3", "an odd number", "a prime number"])
        return f"When you roll a fair six-sided die, what is the probability of getting {t}?"
    if k == 10:
        n = r.randint(2, 4)
        return f"If you flip a fair coin {n} times, what is the probability that every flip is heads?"
    if k == 11:
        l, w, h = r.randint(2, 12), r.randint(2, 12), r.randint(2, 12)
        return pick(r, ["What is the volume of a box that is {l} cm long, {w} cm wide and {h} cm tall?",
                        "A fish tank measures {l} by {w} by {h} inches. What is its volume?"]).format(l=l, w=w, h=h)
    if k == 12:
        x, y = r.randint(20, 80), r.randint(20, 80)
        return f"Two angles of a triangle are {x}° and {y}°. What is the third angle?"
    if k == 13:
        d, t = r.randint(2, 9) * 30, r.choice([2, 3, 5, 6])
        return pick(r, ["A train travels {d} km in {t} hours. What is its average speed?",
                        "{a} drives {d} miles in {t} hours. How fast is {a} going on average?"]).format(d=d, t=t, a=a)
    if k == 14:
        sp, t = r.randint(3, 15), r.randint(2, 6)
        return f"{a} cycles at {sp} km per hour for {t} hours. How far does {a} go?"
    if k == 15:
        p, rate, y = r.randint(2, 20) * 100, r.choice([2, 3, 4, 5]), r.randint(2, 5)
        return f"How much simple interest does ${p} earn at {rate}% per year for {y} years?"
    if k == 16:
        price, off = r.randint(4, 40) * 5, pick(r, [10, 20, 25, 50])
        item = pick(r, SINGLE_ITEMS)
        return pick(r, ["A {item} costs ${price} and is {off}% off. What is the sale price?",
                        "{a} buys a {item} marked ${price} with a {off}% discount. How much does {a} pay?"]).format(item=item, price=price, off=off, a=a)
    if k == 17:
        old, new = r.randint(2, 20) * 10, r.randint(2, 20) * 10
        while new == old:
            new = r.randint(2, 20) * 10
        return f"A price changed from ${old} to ${new}. What is the percent change?"
    if k == 18:
        cm, km = r.choice([1, 2, 5]), r.choice([2, 5, 10, 25])
        d = r.randint(2, 12)
        return f"On a map, {cm} cm stands for {km} km. Two towns are {d * cm} cm apart on the map. How far apart are they really?"
    if k == 19:
        ta, tb = r.choice([2, 3, 4, 6]), r.choice([3, 4, 6, 12])
        return f"{a} can paint a room in {ta} hours and {b} can paint it in {tb} hours. How long does it take them working together?"
    if k == 20:
        x, y = sorted(r.sample([2, 3, 4, 5, 6, 8, 9, 10, 12], 2))
        n1, n2 = r.randint(1, x - 1) if x > 2 else 1, r.randint(1, y - 1)
        return pick(r, ["Which is larger, {n1}/{x} or {n2}/{y}?", "Compare {n1}/{x} and {n2}/{y}. Which is bigger?"]).format(n1=n1, x=x, n2=n2, y=y)
    if k == 21:
        n = r.randint(4, 3999)
        return pick(r, ["Write {n} in Roman numerals.", "How do you write {n} as a Roman numeral?"]).format(n=n)
    if k == 22:
        n = r.choice([12, 18, 24, 30, 36, 40, 45, 48, 56, 60, 72, 84, 90, 96, 100, 120, 126, 150, 180, 210])
        return pick(r, ["What is the prime factorization of {n}?", "Break {n} into prime factors."]).format(n=n)
    if k == 23:
        vals = [r.randint(1, 20) for _ in range(r.randint(5, 7))]
        stat = pick(r, ["mean", "median", "mode", "range", "mean and median"])
        return f"Find the {stat} of these numbers: {', '.join(map(str, vals))}."
    if k == 24:
        x, y = r.randint(2, 9), r.randint(2, 9)
        tot = (x + y) * r.randint(2, 8)
        return f"{a} and {b} share {tot} {thing} in the ratio {x}:{y}. How many does each get?"
    if k == 25:
        h1, m1 = r.randint(6, 11), pick(r, [0, 10, 15, 20, 30, 40, 45, 50])
        dh, dm = r.randint(0, 3), pick(r, [5, 15, 25, 35, 50])
        return f"A movie starts at {h1}:{m1:02d} and lasts {dh} hours and {dm} minutes. What time does it end?"
    if k == 26:
        x, y = r.randint(2, 30), r.randint(2, 30)
        return pick(r, ["What is the least common multiple of {x} and {y}?", "Find the greatest common factor of {x} and {y}."]).format(x=x, y=y)
    if k == 27:
        n = r.randint(100, 9999)
        d = pick(r, [2, 3, 4, 5, 6, 9, 10])
        return f"Is {n} divisible by {d}? Use a divisibility rule to explain."
    if k == 28:
        w, h = r.randint(2, 20), r.randint(2, 20)
        shape = pick(r, ["rectangle", "rectangular garden", "rectangular rug", "rectangular poster"])
        what = pick(r, ["area", "perimeter", "area and perimeter"])
        return f"A {shape} is {w} m by {h} m. What is its {what}?"
    if k == 29:
        rad = r.randint(1, 15)
        what = pick(r, ["area", "circumference"])
        return f"What is the {what} of a circle with radius {rad} cm? Use π ≈ 3.14."
    if k == 30:
        a3, b3 = r.choice([(3, 4), (5, 12), (6, 8), (8, 15), (9, 12), (7, 24)])
        return f"A right triangle has legs of {a3} and {b3}. How long is the hypotenuse?"
    if k == 31:
        n, per, job = r.randint(2, 9), r.randint(3, 25), pick(r, JOBS)
        w = r.randint(2, 6)
        return f"{a} {job} and earns ${per} each time. {a} does it {n} times a week for {w} weeks. How much does {a} earn?"
    if k == 32:
        food, sl, ppl = pick(r, FOODS), r.choice([6, 8, 10, 12]), r.choice([2, 3, 4, 5])
        return f"A {food} is cut into {sl} equal slices and {ppl} friends share it equally. How many slices does each get, and how many are left over?"
    x = r.randint(2, 9)
    e = r.randint(2, 4)
    return pick(r, ["What is {x} to the power of {e}?", "Calculate {x}^{e}.", "What is {x} raised to the {e}th power?"]).format(x=x, e=e)


def gen_ext_math_core(rng):
    return pick(rng, MATH_OPENERS) + _math_core(rng) + (pick(rng, MATH_STYLES) if rng.random() < 0.55 else "")


STORY_SETUPS = [
    "{a} is saving for a {item} that costs ${cost}. {a} already has ${have} and saves ${per} a week. How many weeks until {a} can buy it?",
    "A school trip needs {n} seats. Each bus holds {cap} students. How many buses are needed?",
    "{a} reads {per} pages a day. The book has {total} pages. How many days will it take to finish?",
    "A farmer plants {rows} rows of {crop} with {per} plants in each row. How many plants is that?",
    "{a} has {have} {thing}. {b} has {per} more than {a}. How many do they have together?",
    "A water tank fills at {per} liters per minute. How long does it take to fill {total} liters?",
    "{a} bought {n} {shop} for ${per} each and paid with a ${note} bill. How much change did {a} get?",
    "A club has {n} members. {frac} of them came to the meeting. How many came?",
    "{a} runs {per} km every day except Sunday. How far does {a} run in {w} weeks?",
    "A baker makes {n} {food}s a day and sells them for ${per} each. How much money comes in over {w} days?",
    "{a} is {age} years old. {b} is {per} years older. How old will {b} be in {w} years?",
    "A phone plan costs ${per} a month plus ${have} to sign up. What is the total for {w} months?",
    "A garden path is {total} meters long. Lamps are placed every {per} meters, starting at one end. How many lamps are there?",
    "{a} splits ${total} equally among {n} friends. How much does each friend get?",
    "A recipe needs {per} eggs for {n} people. How many eggs are needed for {m} people?",
    "{a} spends {frac} of ${total} on a {item}. How much money is left?",
]

CROPS = ["lettuce", "carrots", "corn", "beans", "tomatoes", "sunflowers", "cabbages", "peppers"]
FRACS = ["a half", "a quarter", "a third", "three quarters", "two thirds", "a fifth"]


def gen_ext_math_story(rng):
    a, b = two_names(rng)
    form = pick(rng, STORY_SETUPS)
    n = rng.randint(3, 12)
    per = rng.randint(2, 15)
    text = form.format(
        a=a, b=b, item=pick(rng, SINGLE_ITEMS), cost=rng.randint(6, 40) * 5, have=rng.randint(2, 30),
        per=per, n=n, m=n * rng.randint(2, 3), cap=pick(rng, [20, 30, 40, 45, 50]),
        total=rng.randint(5, 40) * 12, rows=rng.randint(3, 15), crop=pick(rng, CROPS), thing=pick(rng, COUNTABLES),
        shop=pick(rng, SHOP_ITEMS), note=next(v for v in (20, 50, 100, 200) if v > n * per), frac=pick(rng, FRACS), w=rng.randint(2, 6),
        food=pick(rng, ["cake", "pie", "bagel", "muffin", "baguette"]), age=rng.randint(6, 40))
    text = re.sub(r"\. ([a-z])", lambda m: ". " + m.group(1).upper(), text)
    return pick(rng, MATH_OPENERS) + text + (pick(rng, MATH_STYLES) if rng.random() < 0.6 else "")


MATH_CONCEPTS = [
    "a prime number", "a fraction", "a decimal", "a percentage", "an equation", "a variable",
    "the order of operations", "an average", "the median", "a ratio", "a proportion", "area",
    "perimeter", "volume", "an angle", "a right angle", "parallel lines", "a function",
    "a negative number", "an exponent", "a square root", "pi", "probability", "a graph",
    "the slope of a line", "a factor", "a multiple", "a remainder", "rounding", "estimation",
    "a coordinate plane", "symmetry", "a polygon", "the Pythagorean theorem", "an integer",
    "a common denominator", "long division", "place value", "scientific notation", "a mean",
    "simple interest", "compound interest", "a pie chart", "a bar chart", "an inequality",
]

MATH_CONCEPT_PHRASINGS = [
    "What is {c} in math?", "Explain {c} with a simple example.", "How would you teach {c} to a ten-year-old?",
    "Why is {c} useful in everyday life?", "Give me two quick examples of {c}.",
    "What is {c}? Keep it under 50 words.", "Explain {c} in three bullet points.",
    "What is a common mistake students make with {c}?",
]

MATH_COMPARE = [
    ("area", "perimeter"), ("mean", "median"), ("a factor", "a multiple"), ("a ratio", "a fraction"),
    ("an equation", "an expression"), ("a prime number", "a composite number"), ("radius", "diameter"),
    ("speed", "velocity"), ("simple interest", "compound interest"), ("a square", "a rhombus"),
    ("permutations", "combinations"), ("an integer", "a whole number"), ("volume", "surface area"),
]


def gen_ext_math_concept(rng):
    if rng.random() < 0.75:
        return pick(rng, MATH_CONCEPT_PHRASINGS).format(c=pick(rng, MATH_CONCEPTS))
    x, y = pick(rng, MATH_COMPARE)
    return pick(rng, ["What is the difference between {x} and {y}?", "How is {x} different from {y}? Give an example.",
                      "Explain {x} versus {y} in two sentences."]).format(x=x, y=y)


def gen_ext_math_mental(rng):
    a, b = rng.randint(11, 99), rng.randint(11, 99)
    k = rng.randrange(6)
    if k == 0:
        return f"What is a quick way to multiply {a} by {pick(rng, [5, 9, 11, 25, 99])} in your head?"
    if k == 1:
        return f"Estimate {a * 37} ÷ {b} without a calculator, and explain how you estimated."
    if k == 2:
        return f"Is {a} × {b} closer to {a * b // 100 * 100} or {(a * b // 100 + 1) * 100}? Explain without working it out exactly."
    if k == 3:
        return f"How can I check that {a} + {b} = {a + b} quickly?"
    if k == 4:
        n = rng.randint(100, 999)
        return f"Round {n} to the nearest ten and to the nearest hundred."
    return f"Double {a}, then halve {b * 2}. What do you get when you add the results?"


EXT_MATH_GENERATORS = [
    (gen_ext_math_core, 2900), (gen_ext_math_story, 1100), (gen_ext_math_concept, 300),
    (gen_ext_math_mental, 300),
    (wrap_old(gen_math_arith, MATH_STYLES, 0.9), 300), (wrap_old(gen_math_word, MATH_STYLES, 0.9), 300),
    (wrap_old(gen_math_units, MATH_STYLES, 0.9), 150), (wrap_old(gen_math_percent, MATH_STYLES, 0.9), 150),
]


MECHANISMS = [
    "a thermostat", "a bicycle gear", "a refrigerator", "a microwave oven", "a solar panel",
    "a wind turbine", "a smoke detector", "a zipper", "a ballpoint pen", "a flush toilet",
    "an elevator", "an escalator", "a touchscreen", "a barcode scanner", "a GPS receiver",
    "a hearing aid", "a compass", "a thermometer", "a parachute", "a submarine",
    "a hot air balloon", "a vaccine", "a credit card", "a traffic light", "a dishwasher",
    "a washing machine", "a camera lens", "a lock and key", "a light bulb", "an LED",
    "a battery", "a car engine", "an electric car", "a dam", "a water filter", "a sailboat",
    "a helicopter", "a rocket", "a seatbelt", "an airbag", "a pressure cooker", "a kettle",
    "a doorbell", "a piano", "a drum", "a guitar", "a microphone", "a loudspeaker",
    "a 3D printer", "a QR code", "Wi-Fi", "Bluetooth", "a search engine", "email",
    "a spam filter", "noise-cancelling headphones", "a sundial", "a water tower",
    "a recycling plant", "a compost heap", "a beehive", "a spider web", "a bird's nest",
    "the human heart", "the lungs", "the kidneys", "the immune system", "the eye",
    "the ear", "taste buds", "muscles", "bones", "sleep", "memory", "digestion",
    "a volcano", "an earthquake", "a hurricane", "a tornado", "a rainbow", "lightning",
    "the water cycle", "the seasons", "the tides", "photosynthesis", "pollination",
    "a seed sprouting", "bird migration", "hibernation", "a caterpillar turning into a butterfly",
    "the stock market", "a bank loan", "insurance", "an election", "a jury trial",
    "a library catalog", "a post office", "a food bank", "a subway system", "an airport",
]

EXPLAIN_IDEAS = [
    "inflation", "supply and demand", "opportunity cost", "a budget deficit", "interest rates",
    "renewable energy", "climate change", "biodiversity", "evolution", "natural selection",
    "DNA", "a virus", "bacteria", "antibiotics", "nutrition", "hydration", "exercise",
    "gravity", "friction", "momentum", "energy conservation", "electric current", "magnetism",
    "sound", "light", "heat", "temperature", "pressure", "states of matter", "an atom",
    "a molecule", "the periodic table", "acids and bases", "rust", "fire", "melting",
    "the Big Bang", "a star", "a planet", "a moon", "a comet", "an eclipse", "a black hole",
    "time zones", "latitude and longitude", "continents", "an island", "a desert", "a glacier",
    "a river delta", "weather", "climate", "a cloud", "fog", "snow", "hail",
    "democracy", "voting", "a law", "a court", "taxes", "trade", "money", "a map",
    "a calendar", "a leap year", "a language", "a dialect", "grammar", "punctuation",
    "a library", "a museum", "a newspaper", "an encyclopedia", "fiction", "nonfiction",
    "a poem", "a novel", "a fable", "a myth", "a documentary", "a podcast", "social media",
    "privacy online", "a strong password", "misinformation", "critical thinking",
    "a habit", "motivation", "stress", "teamwork", "leadership", "negotiation", "a goal",
    "time management", "recycling", "composting", "fair trade", "volunteering",
]

WHY_CLAUSES = [
    "the sky turns orange at sunset", "ice floats on water", "we have leap years", "bread goes stale",
    "cats purr", "dogs wag their tails", "leaves change color in autumn", "the ocean is salty",
    "we get goosebumps", "onions make people cry", "popcorn pops", "metal feels colder than wood",
    "the moon has phases", "we yawn", "some people are left-handed", "birds fly south in winter",
    "soap removes grease", "stars twinkle", "thunder comes after lightning", "mirrors reverse left and right",
    "we need sleep", "babies sleep so much", "our voices sound different on recordings",
    "ears pop on airplanes", "the sea looks blue", "ice cream melts faster on a windy day",
    "a spoon looks bent in a glass of water", "planes leave white trails", "cut apples turn brown",
    "we feel dizzy after spinning", "coffee keeps people awake", "plants lean toward windows",
    "the desert gets cold at night", "hot air rises", "fish don't drown", "snowflakes have six sides",
    "honey never seems to spoil", "bicycles stay upright when moving", "our fingers wrinkle in water",
    "tea stains mugs", "salt melts ice on roads", "glass is transparent", "rubber bounces",
    "some animals are nocturnal", "the days are longer in summer", "people have different blood types",
    "car tires have grooves", "cities are warmer than the countryside", "shadows are longer in the evening",
    "we see lightning before we hear thunder", "wet sand is firmer than dry sand",
]

PAIRS_EXT = [
    ("weather", "climate"), ("a virus", "bacteria"), ("a comet", "an asteroid"), ("a lake", "a pond"),
    ("a hurricane", "a tornado"), ("a frog", "a toad"), ("a crocodile", "an alligator"),
    ("speed", "acceleration"), ("mass", "weight"), ("a star", "a planet"), ("a sea", "an ocean"),
    ("a city", "a town"), ("a democracy", "a monarchy"), ("saving", "investing"),
    ("a debit card", "a credit card"), ("a fruit", "a vegetable"), ("baking soda", "baking powder"),
    ("a simile", "a metaphor"), ("a novel", "a short story"), ("an emu", "an ostrich"),
    ("a moth", "a butterfly"), ("a mountain", "a hill"), ("fog", "mist"), ("a river", "a stream"),
    ("a rabbit", "a hare"), ("empathy", "sympathy"), ("a hobby", "a job"), ("weather", "season"),
    ("renewable", "non-renewable energy"), ("a solid", "a liquid"), ("heat", "temperature"),
    ("an igneous rock", "a sedimentary rock"), ("a meteor", "a meteorite"), ("AM radio", "FM radio"),
    ("a museum", "a gallery"), ("a recipe", "a menu"), ("a podcast", "a radio show"),
    ("an email", "a letter"), ("a mammal", "a reptile"), ("a herbivore", "a carnivore"),
]

EXPLAIN_CONSTRAINTS = [
    " Answer in three bullet points.", " Keep it under 50 words.", " Use two or three sentences.",
    " Include one everyday example.", " Explain it simply, as if to a ten-year-old.",
    " Answer in one sentence.", " Use a numbered list of steps.", " Avoid technical words.",
    " Start with a one-line summary, then add a little detail.", " Use an analogy.",
    " Keep it short.", " Give one surprising fact too.", " Answer in a short paragraph.",
]

EXPLAIN_OPENERS = ["", "", "", "", "", "Quick question: ", "I've always wondered: ",
                   "My kid asked me this and I didn't know: ", "For a school project: ",
                   "I'm curious. ", "Can you help me understand something? "]


def _explain_core(r):
    k = r.randrange(10)
    if k == 0:
        m = pick(r, MECHANISMS)
        return pick(r, ["How does {m} work?", "Explain how {m} works.", "What happens inside {m}?",
                        "Can you describe how {m} works, step by step?"]).format(m=m)
    if k == 1:
        m = pick(r, MECHANISMS)
        return pick(r, ["What are the main parts of {m}?", "What is {m} for, and who uses it?",
                        "What would life be like without {m}?"]).format(m=m)
    if k == 2:
        i = pick(r, EXPLAIN_IDEAS)
        return pick(r, ["What is {i}?", "Explain {i}.", "What does {i} mean?", "Give me a clear definition of {i}.",
                        "How would you describe {i} to someone who has never heard of it?"]).format(i=i)
    if k == 3:
        i = pick(r, EXPLAIN_IDEAS)
        return pick(r, ["Why does {i} matter?", "Give an everyday example of {i}.", "Explain {i} with an analogy.",
                        "What is a common misunderstanding about {i}?"]).format(i=i)
    if k == 4:
        w = pick(r, WHY_CLAUSES)
        return pick(r, ["Why is it that {w}?", "Can you explain why {w}?", "What is the reason that {w}?",
                        "I'd like to know why {w}."]).format(w=w)
    if k == 5:
        x, y = pick(r, PAIRS_EXT)
        return pick(r, ["What is the difference between {x} and {y}?", "How can you tell {x} from {y}?",
                        "Compare {x} and {y}.", "{X} or {y}: what sets them apart?"]).format(x=x, y=y, X=x[0].upper() + x[1:])
    if k == 6:
        i = pick(r, EXPLAIN_IDEAS + MECHANISMS)
        return pick(r, ["Tell me three interesting facts about {i}.", "What are the basics of {i} that everyone should know?",
                        "Summarize {i} in a few sentences."]).format(i=i)
    if k == 7:
        c = pick(r, CONCEPTS)
        return pick(r, ["What is {c}, and why should I care?", "Describe {c} using a comparison to something at home.",
                        "How is {c} connected to everyday life?"]).format(c=c)
    if k == 8:
        w = pick(r, WHY_CLAUSES)
        return f"Is it true that {w}? If so, why?" if r.random() < 0.3 else f"What is the science behind why {w}?"
    m = pick(r, MECHANISMS)
    return pick(r, ["Who invented {m}, roughly, and why was it useful?", "How has {m} changed over time?",
                    "What problem does {m} solve?"]).format(m=m)


def gen_ext_explain_core(rng):
    core = _explain_core(rng)
    opener = pick(rng, EXPLAIN_OPENERS)
    text = (opener if core.endswith("?") or opener.endswith(". ") else "") + core
    if rng.random() < 0.5:
        text += pick(rng, EXPLAIN_CONSTRAINTS)
    return text


AUDIENCE_EXT = ["a five-year-old", "a teenager", "my grandmother", "a new employee", "a tourist",
                "someone who speaks little English", "a science class", "a sports fan", "a busy parent"]


def gen_ext_explain_audience(rng):
    topic = pick(rng, EXPLAIN_IDEAS + MECHANISMS + CONCEPTS)
    aud = pick(rng, AUDIENCE_EXT)
    return pick(rng, ["Explain {t} to {a}.", "How would you explain {t} to {a}?",
                      "Describe {t} for {a} in a few sentences.",
                      "Write a short explanation of {t} that {a} would understand."]).format(t=topic, a=aud)


EXT_EXPLAIN_GENERATORS = [
    (gen_ext_explain_core, 3900), (gen_ext_explain_audience, 700),
    (wrap_old(gen_explain_how, EXPLAIN_CONSTRAINTS), 250), (wrap_old(gen_explain_diff, EXPLAIN_CONSTRAINTS), 150),
    (wrap_old(gen_explain_why, EXPLAIN_CONSTRAINTS), 150), (wrap_old(gen_explain_role, EXPLAIN_CONSTRAINTS), 150),
    (wrap_old(gen_explain_proscons, EXPLAIN_CONSTRAINTS), 100), (wrap_old(gen_explain_example, EXPLAIN_CONSTRAINTS), 100),
]


OCCASIONS = [
    "a friend's birthday", "a coworker's promotion", "a neighbor who helped me move", "a teacher at the end of the year",
    "my sister's graduation", "a friend who is feeling down", "a new baby in the family", "a colleague leaving the team",
    "my parents' anniversary", "a friend recovering from surgery", "a team that won a match", "a host after a dinner party",
    "a volunteer at the food bank", "a mentor who helped me", "my landlord about a late repair", "a new neighbor",
]

MESSAGE_KINDS = ["a short thank-you note", "a text message", "a card message", "a short email", "a two-line message",
                 "a warm note", "a short toast", "a funny card message"]

REQUESTS_TO = [
    ("my manager", "asking for Friday off"), ("a professor", "asking for an extension on an essay"),
    ("a hotel", "asking for a late checkout"), ("a neighbor", "asking them to keep the music down at night"),
    ("a friend", "asking to borrow their tent for the weekend"), ("a shop", "asking about a missing order"),
    ("a plumber", "asking for a quote to fix a leaking sink"), ("my team", "announcing a new meeting time"),
    ("a school", "asking about after-school clubs"), ("a gym", "asking to pause my membership"),
    ("a restaurant", "asking whether they have vegan options"), ("a client", "apologizing for a delayed delivery"),
    ("a library", "asking to renew a book"), ("a landlord", "asking whether I can keep a cat"),
]

ADVICE_SITUATIONS = [
    "I have too many tabs open and can't focus", "I forgot a friend's birthday yesterday",
    "my roommate never washes the dishes", "I get nervous before phone calls", "I want to eat more vegetables",
    "I keep hitting snooze every morning", "I have an exam in three days and haven't started",
    "my houseplants keep dying", "I want to learn to cook but don't know where to start",
    "I'm moving to a city where I know nobody", "I spend too much money on takeaway",
    "I find it hard to say no to extra work", "my desk is always messy", "I want to run a 5K in two months",
    "I'm bored on weekends", "my kid doesn't want to read", "I can't decide between two job offers",
    "I have a long flight tomorrow", "I'm starting a new job on Monday", "my neighbor's dog barks all day",
    "I want to start journaling", "I feel stuck learning the piano", "I have to give a speech at a wedding",
    "I want to be better at remembering names", "I get distracted by my phone while studying",
]

PLACES_DESC = [
    "a quiet beach at sunrise", "a busy kitchen before dinner", "an old bookshop", "a mountain cabin in winter",
    "a train platform at midnight", "a summer street festival", "a greenhouse full of plants",
    "a rainy city street", "a child's bedroom", "a small fishing harbor", "a school gym on game night",
    "a desert at noon", "a cozy café", "a forest after rain", "an airport at 5 a.m.", "a rooftop at sunset",
    "a crowded bus", "a lighthouse keeper's room", "a bakery at dawn", "a snowy village square",
]

PRODUCTS = [
    "reusable water bottle", "solar-powered lamp", "bamboo toothbrush", "foldable bike", "smart plant pot",
    "noise-cancelling earmuffs", "handmade candle", "wool hat", "travel pillow", "board game about space",
    "recipe app", "language-learning app", "dog leash with a light", "lunch box that keeps food warm",
    "kids' rain jacket", "desk lamp", "backpack with many pockets", "set of colored pencils",
]

JOKE_TOPICS = ["cats", "computers", "vegetables", "the weather", "math", "dinosaurs", "coffee", "socks",
               "penguins", "homework", "the moon", "pirates", "bread", "robots", "trains", "spiders",
               "bananas", "a sleepy owl", "clocks", "teachers"]

NAME_FOR = ["a bakery", "a cat", "a goldfish", "a book club", "a podcast about gardening", "a robot",
            "a hiking group", "a lemonade stand", "a family boat", "a new coffee blend", "a board game",
            "a school newspaper", "a running club", "a pet hamster", "a food truck", "a knitting circle",
            "a rock band", "a small bookstore", "a science fair project", "a community garden"]

PLAN_TASKS = [
    "a relaxing Sunday at home", "a rainy-day activity list for kids", "a three-day trip to the seaside",
    "a study schedule for one week", "a simple weekly meal plan", "a packing list for a weekend hike",
    "a morning routine that takes 30 minutes", "a birthday party for a seven-year-old",
    "a cheap date night", "a family movie night", "a first week of learning to code",
    "a beginner's home workout", "a garden cleanup weekend", "a surprise party for a friend",
    "a one-day visit to a new city", "a cleaning schedule for a small apartment",
]

ROLE_PLAY = [
    ("a friendly tour guide", "welcome me to your city"), ("a pirate captain", "give me orders for the day"),
    ("a wise old tree", "give me advice about patience"), ("a coach", "give me a pep talk before my exam"),
    ("a weather reporter", "announce a sunny weekend"), ("a museum guide", "describe a famous painting"),
    ("a chef", "tell me how to make a simple salad"), ("a robot", "describe your first day on Earth"),
    ("a detective", "explain how you found a lost cat"), ("a librarian", "recommend a book for a rainy day"),
    ("a space captain", "report on a new planet"), ("a grandmother", "tell me how to stay warm in winter"),
    ("a dragon", "explain why you guard treasure"), ("a shopkeeper", "describe today's special offers"),
]

STORY_ABOUT = [
    "a lost key that finds its way home", "a penguin who wants to fly", "a shy robot at a party",
    "a girl who can talk to clouds", "a bakery that only opens at midnight", "a snail in a race",
    "two friends building a treehouse", "a dog who becomes mayor", "a lighthouse with no keeper",
    "a kite that escapes", "a grandmother who learns to skateboard", "a dragon afraid of the dark",
    "a message in a bottle", "a broken clock that tells the future", "a cat who runs a café",
    "a boy who collects sounds", "a snowman in spring", "a mouse in a library", "a tiny town on a turtle's back",
    "the last leaf on a tree", "a bus driver who takes a wrong turn", "an astronaut who misses pizza",
]

CHAT_LENGTHS = [" Keep it under 80 words.", " Make it four lines long.", " Use simple words.",
                " Keep it short.", " Make it funny.", " Make it gentle and kind.", " Give it a title.",
                " End with a twist.", " Use no more than five sentences.", " Make it rhyme.",
                " Write it for children."]

CHAT_OPENERS = ["", "", "", "", "Hi! ", "Hey! ", "Hello. ", "Please help: ", "I need a favor. "]


def _chat_core(r):
    k = r.randrange(16)
    if k == 0:
        return pick(r, ["Write {m} for {o}.", "Help me write {m} for {o}.", "Can you draft {m} for {o}?"]).format(
            m=pick(r, MESSAGE_KINDS), o=pick(r, OCCASIONS))
    if k == 1:
        who, what = pick(r, REQUESTS_TO)
        return pick(r, ["Write a polite email to {who} {what}.", "Draft a short message to {who} {what}.",
                        "Help me write a friendly note to {who} {what}."]).format(who=who, what=what)
    if k == 2:
        s = pick(r, ADVICE_SITUATIONS)
        return pick(r, ["{S}. What should I do?", "{S}. Any advice?", "{S}. Can you give me a few ideas?",
                        "Help me out: {s}. What would you suggest?"]).format(S=s[0].upper() + s[1:], s=s)
    if k == 3:
        p = pick(r, PLACES_DESC)
        return pick(r, ["Describe {p} in a few sentences.", "Describe {p} using sounds and smells.",
                        "Write a short paragraph about {p}.", "Paint a picture of {p} in words."]).format(p=p)
    if k == 4:
        p = pick(r, PRODUCTS)
        return pick(r, ["Write a short product description for a {p}.", "Write a catchy slogan for a {p}.",
                        "Give me three taglines for a {p}.", "Write a two-sentence ad for a {p}."]).format(p=p)
    if k == 5:
        t = pick(r, JOKE_TOPICS)
        return pick(r, ["Tell me a joke about {t}.", "Do you know a clean joke about {t}?",
                        "Write a riddle about {t}.", "Make up a silly pun about {t}."]).format(t=t)
    if k == 6:
        n = pick(r, NAME_FOR)
        return pick(r, ["Suggest five names for {n}.", "What would be a good name for {n}?",
                        "Give me a few fun name ideas for {n}.", "Brainstorm names for {n}."]).format(n=n)
    if k == 7:
        t = pick(r, PLAN_TASKS)
        return pick(r, ["Help me plan {t}.", "Make {t}.", "Can you put together {t}?",
                        "Give me a simple outline for {t}."]).format(t=t)
    if k == 8:
        role, task = pick(r, ROLE_PLAY)
        return pick(r, ["Pretend you are {role} and {task}.", "Act as {role}: {task}.",
                        "Imagine you're {role}. Please {task}."]).format(role=role, task=task)
    if k == 9:
        s = pick(r, STORY_ABOUT)
        return pick(r, ["Write a very short story about {s}.", "Tell me a bedtime story about {s}.",
                        "Write the opening paragraph of a story about {s}.",
                        "Write a 100-word story about {s}."]).format(s=s)
    if k == 10:
        t = pick(r, POEM_TOPICS)
        f = pick(r, ["a haiku", "a four-line poem", "a short rhyming poem", "a limerick", "a free-verse poem",
                     "an acrostic poem", "a two-line poem", "a short song chorus"])
        return pick(r, ["Write {f} about {t}.", "Could you write {f} about {t}?", "I'd love {f} about {t}."]).format(f=f, t=t)
    if k == 11:
        a = pick(r, TIP_ACTIVITIES)
        return pick(r, ["What are your best tips for {a}?", "I need help with {a}. Where do I start?",
                        "Give me a short checklist for {a}.", "What mistakes should I avoid when {a}?"]).format(a=a)
    if k == 12:
        c1, c2 = r.sample(["tea", "coffee", "cats", "dogs", "mountains", "beaches", "books", "movies",
                           "summer", "winter", "cities", "villages", "trains", "planes", "pizza", "pasta"], 2)
        return pick(r, ["Which do you prefer, {a} or {b}? Give a playful answer.",
                        "Make a fun case for {a} over {b}.", "List two good things about {a} and two about {b}."]).format(a=c1, b=c2)
    if k == 13:
        s = pick(r, SENTENCES)
        st = pick(r, STYLES + ["more cheerful", "like a pirate", "as a short poem", "in plain English", "for a child"])
        return f"Rewrite this sentence to be {st}: \"{s}\"" if not st.startswith(("like", "as", "in", "for")) else f"Rewrite this sentence {st}: \"{s}\""
    if k == 14:
        return pick(r, ["What's a fun fact about {t}?", "Tell me something cheerful about {t}.",
                        "Start a friendly conversation about {t}."]).format(t=pick(r, JOKE_TOPICS + POEM_TOPICS))
    g = pick(r, ["a gift for my dad who likes fishing", "a gift for a friend who loves baking",
                 "a present for a ten-year-old who likes science", "a thank-you gift for a teacher",
                 "a housewarming gift under $20", "a gift for someone who has everything",
                 "a birthday gift for a coworker", "a gift for a new runner"])
    return pick(r, ["Suggest {g}.", "Any ideas for {g}?", "What would be {g}? Give a few options."]).format(g=g)


def gen_ext_chat_core(rng):
    text = pick(rng, CHAT_OPENERS) + _chat_core(rng)
    if rng.random() < 0.4:
        text += pick(rng, CHAT_LENGTHS)
    return text


EXT_CHAT_GENERATORS = [
    (gen_ext_chat_core, 4400),
    (wrap_old(gen_chat_poem, CHAT_LENGTHS), 150), (wrap_old(gen_chat_story, CHAT_LENGTHS), 150),
    (wrap_old(gen_chat_email, CHAT_LENGTHS), 150), (wrap_old(gen_chat_tips, EXPLAIN_CONSTRAINTS), 150),
    (wrap_old(gen_chat_recommend, EXPLAIN_CONSTRAINTS), 150), (wrap_old(gen_chat_ideas, EXPLAIN_CONSTRAINTS), 150),
    (wrap_old(gen_chat_smalltalk, CHAT_LENGTHS, 0.5), 100), (wrap_old(gen_chat_rewrite, [" Keep the meaning the same.", " Give two versions."]), 100),
]


# ---------------------------------------------------------------------------
# MULTI-TURN records: a short history (user/assistant turns we write, with
# answers our templates compute or that are written here) and a follow-up.
# ---------------------------------------------------------------------------

GREETINGS = [
    ("Hi! Can you help me with something?", "Of course! What do you need?"),
    ("Hello, I have a question.", "Sure, go ahead and ask."),
    ("Hey there.", "Hi! How can I help you today?"),
    ("Good morning! Are you able to help me out?", "Good morning! Yes, happy to help. What is it?"),
    ("I need a hand with something quick.", "No problem. What would you like help with?"),
]

# (task, Python code, one-line explanation, example call and result)
MT_CODE = [
    ("reverses a string", "def reverse(s):\n    return s[::-1]",
     "The slice s[::-1] walks the string from the end to the start.", "reverse(\"hello\") returns \"olleh\"."),
    ("checks whether a number is even", "def is_even(n):\n    return n % 2 == 0",
     "A number is even when dividing it by 2 leaves no remainder.", "is_even(6) returns True."),
    ("returns the largest number in a list", "def largest(nums):\n    best = nums[0]\n    for n in nums:\n        if n > best:\n            best = n\n    return best",
     "It keeps the biggest value seen so far and updates it as it goes.", "largest([3, 9, 4]) returns 9."),
    ("counts the vowels in a string", "def count_vowels(s):\n    return sum(1 for ch in s.lower() if ch in \"aeiou\")",
     "It checks each character and adds 1 when it is a vowel.", "count_vowels(\"Banana\") returns 3."),
    ("adds up the numbers in a list", "def total(nums):\n    result = 0\n    for n in nums:\n        result += n\n    return result",
     "It starts at 0 and adds each number in turn.", "total([2, 4, 6]) returns 12."),
    ("returns the factorial of n", "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result",
     "It multiplies all the whole numbers from 2 up to n.", "factorial(5) returns 120."),
    ("checks whether a word is a palindrome", "def is_palindrome(word):\n    w = word.lower()\n    return w == w[::-1]",
     "A palindrome reads the same backwards, so it compares the word with its reverse.", "is_palindrome(\"Level\") returns True."),
    ("converts Celsius to Fahrenheit", "def c_to_f(c):\n    return c * 9 / 5 + 32",
     "It applies the formula F = C × 9/5 + 32.", "c_to_f(100) returns 212.0."),
    ("removes duplicates from a list", "def unique(items):\n    seen = []\n    for x in items:\n        if x not in seen:\n            seen.append(x)\n    return seen",
     "It keeps an item only the first time it appears, so the order stays the same.", "unique([1, 2, 1, 3]) returns [1, 2, 3]."),
    ("counts the words in a sentence", "def word_count(sentence):\n    return len(sentence.split())",
     "split() breaks the sentence on spaces, and len() counts the pieces.", "word_count(\"I like green tea\") returns 4."),
    ("returns the average of a list", "def average(nums):\n    if not nums:\n        return 0\n    return sum(nums) / len(nums)",
     "It divides the sum by the number of items and returns 0 for an empty list.", "average([2, 4, 9]) returns 5.0."),
    ("checks whether a year is a leap year", "def is_leap(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)",
     "Leap years are divisible by 4, except century years that are not divisible by 400.", "is_leap(2024) returns True."),
    ("returns the first n Fibonacci numbers", "def fib(n):\n    a, b = 0, 1\n    out = []\n    for _ in range(n):\n        out.append(a)\n        a, b = b, a + b\n    return out",
     "Each new number is the sum of the previous two.", "fib(6) returns [0, 1, 1, 2, 3, 5]."),
    ("capitalizes every word in a sentence", "def capitalize_words(s):\n    return \" \".join(w.capitalize() for w in s.split())",
     "It capitalizes each word and joins them back with spaces.", "capitalize_words(\"good day sir\") returns \"Good Day Sir\"."),
    ("returns only the even numbers from a list", "def evens(nums):\n    return [n for n in nums if n % 2 == 0]",
     "The list comprehension keeps the numbers whose remainder by 2 is zero.", "evens([1, 2, 3, 4]) returns [2, 4]."),
    ("counts how often each letter appears in a word", "def letter_counts(word):\n    counts = {}\n    for ch in word:\n        counts[ch] = counts.get(ch, 0) + 1\n    return counts",
     "It uses a dictionary and adds one to a letter's count each time it appears.", "letter_counts(\"egg\") returns {'e': 1, 'g': 2}."),
    ("checks whether a number is prime", "def is_prime(n):\n    if n < 2:\n        return False\n    for d in range(2, int(n ** 0.5) + 1):\n        if n % d == 0:\n            return False\n    return True",
     "It tries every divisor up to the square root; if none divides n, n is prime.", "is_prime(13) returns True."),
    ("converts minutes into hours and minutes", "def split_minutes(m):\n    return m // 60, m % 60",
     "Integer division gives the hours and the remainder gives the minutes left.", "split_minutes(135) returns (2, 15)."),
    ("finds the longest word in a sentence", "def longest_word(sentence):\n    return max(sentence.split(), key=len)",
     "max() with key=len picks the word with the most characters.", "longest_word(\"a tiny elephant\") returns \"elephant\"."),
    ("returns the sum of the digits of a number", "def digit_sum(n):\n    return sum(int(d) for d in str(abs(n)))",
     "It turns the number into text and adds up each digit.", "digit_sum(472) returns 13."),
]

MT_CODE_ASKS = [
    "Write a Python function that {task}.", "Can you write a short Python function that {task}?",
    "I need a Python function that {task}.", "Show me a Python function that {task}.",
    "How would I write a Python function that {task}?",
]

MT_CODE_FOLLOWUPS = [
    "Now do the same in JavaScript.", "Can you write it in {lang} instead?", "Can you make it shorter?",
    "Why does that work?", "Can you add a docstring and type hints?", "How would I test this?",
    "What happens if the input is empty?", "Can you explain it line by line?", "What is its time complexity?",
    "Can you add error handling for bad input?", "Could you use clearer variable names?",
    "Is there a built-in way to do this in Python?", "Can you turn it into a one-liner?",
    "How would I use it on a list of inputs?", "Could you write two or three unit tests for it?",
    "Can you make it work for {variant} too?", "Thanks. Can you rewrite it as a loop instead?",
    "What would a beginner most likely get wrong here?",
]

MT_CODE_VARIANTS = ["negative numbers", "uppercase letters", "very large inputs", "strings with spaces", "mixed types"]


def gen_mt_code(rng):
    task, code, expl, example = pick(rng, MT_CODE)
    hist = [{"role": "user", "content": pick(rng, MT_CODE_ASKS).format(task=task)},
            {"role": "assistant", "content": f"Here is one way to do it:\n\n```python\n{code}\n```\n\n{expl}"}]
    if rng.random() < 0.3:
        hist += [{"role": "user", "content": pick(rng, ["Can you show an example call?", "How do I call it?",
                                                         "What would it return for a simple input?"])},
                 {"role": "assistant", "content": f"For example, {example}"}]
    prompt = pick(rng, MT_CODE_FOLLOWUPS).format(lang=pick(rng, ["Go", "Rust", "Java", "TypeScript", "C", "Ruby", "C#"]),
                                                 variant=pick(rng, MT_CODE_VARIANTS))
    return hist, prompt


def _mt_math_pair(r):
    """(question, short worked answer, follow-ups) with numbers we compute."""
    k = r.randrange(6)
    if k == 0:
        a, b = r.randint(12, 99), r.randint(3, 49)
        d = pick(r, [2, 3, 4, 5, 8, 10])
        return (f"What is {a} × {b}?", f"{a} × {b} = {a * b}.",
                ["How did you get that?", "Can you check it another way?", f"Now divide that by {d}.",
                 "What is that rounded to the nearest hundred?", "Is that number even or odd?",
                 "Can you write that number in words?", f"And what is {a} × {b + 1}?", "Can you show it with the long multiplication method?"])
    if k == 1:
        p, n = pick(r, [10, 20, 25, 50]), r.randint(2, 30) * 20
        p2 = pick(r, [5, 15, 30, 75])
        return (f"What is {p}% of {n}?", f"{p}% of {n} is {n * p // 100}.",
                [f"What about {p2}%?", "How do you work that out?", "What fraction of the whole is that?",
                 f"And what is {n} plus {p}%?", "Is there a quick mental trick for percentages like that?"])
    if k == 2:
        x, m, c = r.randint(2, 12), r.randint(2, 9), r.randint(1, 20)
        t = m * x + c
        return (f"Solve {m}x + {c} = {t}.", f"Subtract {c} from both sides to get {m}x = {t - c}, then divide by {m}: x = {x}.",
                ["Can you check the answer by putting it back in?", f"Now solve {m}x + {c} = {t + m}.", "Why do we subtract first?",
                 "What would change if it were a minus sign instead of a plus?", "Can you explain that more simply?"])
    if k == 3:
        a, b = two_names(r)
        n, m = r.randint(3, 30), r.randint(2, 20)
        thing = pick(r, COUNTABLES)
        return (f"{a} has {n} {thing} and gets {m} more. How many does {a} have now?", f"{a} has {n} + {m} = {n + m} {thing}.",
                [f"What if {b} then takes {r.randint(1, n)} of them?", "Can you write that as an equation?",
                 "Explain it for a young child.", f"What if {a} shares them equally with {b}?", "Can you make up a harder version of this problem?"])
    if k == 4:
        big, small, f = pick(r, UNITS)
        n = r.randint(2, 20)
        one = {"feet": "foot", "inches": "inch"}.get(big, big[:-1])
        return (f"How many {small} are in {n} {big}?", f"One {one} is {f} {small}, so {n} {big} = {n * f} {small}.",
                ["How do I convert back the other way?", f"What about {n + r.randint(1, 9)} {big}?", "Can you give me a trick to remember that?",
                 f"And how many {small} are in half a {one}?"])
    s, d = r.randint(1, 20), r.randint(2, 9)
    seq = [s + d * i for i in range(4)]
    return (f"What comes next: {', '.join(map(str, seq))}?", f"The numbers go up by {d} each time, so the next one is {seq[-1] + d}.",
            ["What would the 10th number be?", "Can you write a rule for the nth number?", "Can you give me a harder pattern to try?",
             "What if the pattern doubled instead?"])


def gen_mt_math(rng):
    q, a, fups = _mt_math_pair(rng)
    hist = []
    if rng.random() < 0.2:
        u, b = pick(rng, GREETINGS)
        hist += [{"role": "user", "content": u}, {"role": "assistant", "content": b}]
    hist += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return hist, pick(rng, fups)


MT_EXPLAIN = [
    ("photosynthesis", "Photosynthesis is how plants use sunlight, water and carbon dioxide to make sugar, releasing oxygen."),
    ("gravity", "Gravity is the pull that objects with mass have on each other; it keeps us on the ground and the Moon in orbit."),
    ("inflation", "Inflation is when prices rise over time, so the same money buys a little less."),
    ("the water cycle", "Water evaporates, forms clouds, falls as rain or snow, and flows back to rivers and seas."),
    ("an atom", "An atom is the tiny building block of matter, with a nucleus in the middle and electrons around it."),
    ("a vaccine", "A vaccine trains the immune system to recognize a germ, so the body can fight it off faster later."),
    ("the greenhouse effect", "Gases like carbon dioxide trap some of the Sun's heat near the Earth, which keeps the planet warm."),
    ("a black hole", "A black hole is a region where gravity is so strong that not even light can escape."),
    ("compound interest", "Compound interest is interest earned on both the original money and the interest already added."),
    ("an ecosystem", "An ecosystem is a community of living things and their surroundings, all affecting each other."),
    ("democracy", "Democracy is a system where people choose their leaders and laws, usually by voting."),
    ("a time zone", "A time zone is a region that uses the same clock time, set roughly by its position relative to the Sun."),
    ("erosion", "Erosion is the slow wearing away of rock and soil by water, wind or ice."),
    ("a rainbow", "A rainbow forms when sunlight is bent and split into colors by raindrops."),
    ("friction", "Friction is the force that resists two surfaces sliding against each other."),
    ("a recession", "A recession is a period when the economy shrinks, businesses sell less and jobs become harder to find."),
    ("DNA", "DNA is the molecule that carries the instructions for how a living thing grows and works."),
    ("an echo", "An echo is a sound that bounces off a hard surface and comes back to your ears a moment later."),
    ("evaporation", "Evaporation is when a liquid turns into a gas, like a puddle drying in the sun."),
    ("a budget", "A budget is a plan for how much money you expect to earn and spend."),
    ("the immune system", "The immune system is the body's defense network that finds and fights germs."),
    ("a food chain", "A food chain shows who eats whom, starting from plants and moving up to predators."),
    ("an earthquake", "An earthquake is shaking caused by rocks suddenly slipping along cracks in the Earth's crust."),
    ("a metaphor", "A metaphor describes something by saying it is something else, like 'time is a thief'."),
    ("buoyancy", "Buoyancy is the upward push from a liquid that makes things float if they are light enough for their size."),
    ("the seasons", "Seasons happen because the Earth is tilted, so each half gets more direct sunlight at different times of year."),
    ("a password manager", "A password manager stores your passwords securely so you can use strong, different ones everywhere."),
    ("machine learning", "Machine learning is a way for computers to learn patterns from examples instead of following fixed rules."),
    ("static electricity", "Static electricity is a build-up of electric charge on a surface, which can jump as a small spark."),
    ("a tide", "Tides are the regular rise and fall of the sea, caused mainly by the Moon's gravity."),
    ("procrastination", "Procrastination is putting off a task even though you know delaying it may make things harder."),
    ("supply and demand", "When many people want something that is scarce, its price tends to rise; when it is plentiful, the price tends to fall."),
    ("a volcano", "A volcano is an opening in the Earth's crust where melted rock, gas and ash come out."),
    ("hibernation", "Hibernation is a deep, long rest some animals take in winter to save energy when food is scarce."),
    ("a fossil", "A fossil is the preserved remains or trace of a living thing from long ago, usually found in rock."),
    ("density", "Density is how much mass is packed into a given space; a brick is denser than a sponge."),
]

MT_EXPLAIN_ASKS = ["What is {t}?", "Can you explain {t}?", "Explain {t} briefly.", "What does {t} mean?"]

MT_EXPLAIN_FOLLOWUPS = [
    "Can you give an example?", "Explain it like I'm five.", "Can you make that shorter?", "Why does that matter?",
    "How is that different from {other}?", "Can you say it in one sentence?", "What is a common misconception about it?",
    "Where can I see that in everyday life?", "Tell me one more interesting fact about it.",
    "Could you turn that into three bullet points?", "Can you give me an analogy?", "What would happen without it?",
    "How would I explain that to my grandmother?", "Can you go into a bit more detail?", "Thanks! What should I learn next about this?",
]


def gen_mt_explain(rng):
    i = rng.randrange(len(MT_EXPLAIN))
    t, ans = MT_EXPLAIN[i]
    hist = []
    if rng.random() < 0.2:
        u, b = pick(rng, GREETINGS)
        hist += [{"role": "user", "content": u}, {"role": "assistant", "content": b}]
    hist += [{"role": "user", "content": pick(rng, MT_EXPLAIN_ASKS).format(t=t)}, {"role": "assistant", "content": ans}]
    other = MT_EXPLAIN[(i + 1 + rng.randrange(len(MT_EXPLAIN) - 1)) % len(MT_EXPLAIN)][0]
    return hist, pick(rng, MT_EXPLAIN_FOLLOWUPS).format(other=other)


MT_HAIKU = [
    ("rain", "Soft rain on the roof,\nthe kettle hums in the dark,\nthe whole house listens."),
    ("autumn", "Red leaves let go now,\nthe wind carries them away,\nbare branches wave back."),
    ("the sea", "Waves fold into foam,\nsalt wind tangles in my hair,\ngulls argue above."),
    ("a cat", "Curled in a sun patch,\none ear twitches at a bird,\nthe rest stays asleep."),
    ("morning coffee", "Steam curls from the cup,\nthe first sip wakes the whole room,\nbirds start their gossip."),
    ("snow", "White hush on the street,\nfootprints tell where someone went,\nthen the snow erases."),
    ("a city at night", "Neon in puddles,\ntaxis blink like fireflies,\nthe city hums on."),
    ("spring", "Green tips through the frost,\nthe garden clears its throat,\nbees come back to work."),
    ("the moon", "Pale lamp in the sky,\nit borrows the sun's bright glow\nand lends it to us."),
    ("a library", "Quiet rows of spines,\na thousand voices waiting\nfor someone to read."),
]

MT_NAMES = [("a bakery", "Rise & Shine Bakery"), ("a cat", "Pickles"), ("a book club", "The Page Turners"),
            ("a hiking group", "Trail Mix"), ("a food truck", "Wheel Good Food"), ("a podcast about gardening", "Dirt Talk"),
            ("a coffee shop", "The Daily Grind"), ("a running club", "Early Miles"), ("a pet goldfish", "Bubbles"),
            ("a board game night", "Dice & Slice"), ("a small bookstore", "Chapter One"), ("a robot", "Bolt")]

MT_REWRITES = [
    ("Give me the file now.", "Could you please send me the file when you have a moment?"),
    ("Your work is late again.", "I noticed the work came in late again; is there anything making the deadlines hard?"),
    ("Stop calling me during dinner.", "Would you mind not calling during dinner time? Later in the evening works better."),
    ("I don't like this idea.", "I'm not sure this idea is the right fit yet; could we look at a few alternatives?"),
    ("Fix the printer.", "Could someone take a look at the printer when they get a chance? It seems to be broken."),
    ("You forgot my order.", "I think my order may have been missed; could you check on it, please?"),
    ("Be on time tomorrow.", "Please try to arrive on time tomorrow; we have a lot to get through."),
    ("Answer my email.", "When you have a moment, could you reply to my email? Thank you!"),
]

MT_TIPS = [
    ("falling asleep faster", "Try going to bed at the same time every night and putting your phone away 30 minutes before."),
    ("saving money on groceries", "Plan your meals for the week and shop with a list, so you buy only what you need."),
    ("studying for an exam", "Study in short sessions of about 25 minutes and test yourself instead of just rereading."),
    ("keeping a plant alive", "Check the soil with your finger and water only when the top few centimeters feel dry."),
    ("learning a new language", "Practice a little every day, even ten minutes, and learn the most common words first."),
    ("drinking more water", "Keep a filled water bottle on your desk and take a few sips every time you finish a task."),
    ("public speaking", "Rehearse out loud a few times and focus on your first sentence so you start confidently."),
    ("staying focused while working from home", "Set up one spot only for work and plan your day in short, clear blocks."),
    ("reading more books", "Carry a book with you and read a few pages whenever you would otherwise check your phone."),
    ("getting up early", "Move your alarm earlier by 15 minutes every few days and put it across the room."),
]

MT_CHAT_FOLLOWUPS = {
    "haiku": ["Now make it rhyme.", "Can you write another one about {other}?", "Make it sadder.",
              "Turn it into a four-line poem.", "Give it a title.", "Can you make it funny instead?",
              "Explain the imagery you used.", "Now write one for a child."],
    "name": ["Give me three more options.", "Make it funnier.", "Something shorter, please.",
             "Why does that name work?", "I like it! Can you write a slogan to go with it?",
             "Can you suggest a logo idea for it?", "Something more serious, please."],
    "rewrite": ["Now make it more casual.", "Can you make it even shorter?", "Make it sound more cheerful.",
                "Give me two other versions.", "How would a teacher say it?", "Can you make it more formal?"],
    "tips": ["Can you give me two more?", "Make that into a checklist.", "What if I only have ten minutes a day?",
             "Thanks! Can you say that more briefly?", "What is the most common mistake people make with this?",
             "How long before I see results?", "Can you explain why that helps?"],
}


def gen_mt_chat(rng):
    k = rng.randrange(4)
    if k == 0:
        i = rng.randrange(len(MT_HAIKU))
        topic, poem = MT_HAIKU[i]
        ask = pick(rng, ["Write a haiku about {t}.", "Could you write me a haiku about {t}?", "I'd love a haiku about {t}."]).format(t=topic)
        ans, kind = poem, "haiku"
        other = MT_HAIKU[(i + 1 + rng.randrange(len(MT_HAIKU) - 1)) % len(MT_HAIKU)][0]
    elif k == 1:
        what, name = pick(rng, MT_NAMES)
        ask = pick(rng, ["Suggest a name for {w}.", "What's a good name for {w}?", "Can you name {w} for me?"]).format(w=what)
        ans = pick(rng, ["How about \"{n}\"? It is short, friendly and easy to remember.", "I'd go with \"{n}\". It is playful and easy to say.",
                         "\"{n}\" could work well: it's simple and memorable."]).format(n=name)
        kind, other = "name", ""
    elif k == 2:
        s, polite = pick(rng, MT_REWRITES)
        ask = pick(rng, ["Rewrite this more politely: \"{s}\"", "Make this sound nicer: \"{s}\"", "How can I say \"{s}\" in a kinder way?"]).format(s=s)
        ans, kind, other = f"\"{polite}\"", "rewrite", ""
    else:
        act, tip = pick(rng, MT_TIPS)
        ask = pick(rng, ["Give me one tip for {a}.", "What's your best tip for {a}?", "Any advice on {a}?"]).format(a=act)
        ans, kind, other = tip, "tips", ""
    hist = []
    if rng.random() < 0.3:
        u, b = pick(rng, GREETINGS)
        hist += [{"role": "user", "content": u}, {"role": "assistant", "content": b}]
    hist += [{"role": "user", "content": ask}, {"role": "assistant", "content": ans}]
    return hist, pick(rng, MT_CHAT_FOLLOWUPS[kind]).format(other=other)


EXT_PLAN = {
    "code": (EXT_CODE_GENERATORS, gen_mt_code),
    "math": (EXT_MATH_GENERATORS, gen_mt_math),
    "explain": (EXT_EXPLAIN_GENERATORS, gen_mt_explain),
    "chat": (EXT_CHAT_GENERATORS, gen_mt_chat),
}


def allocate(weights, total):
    """Split `total` over generators in proportion to their weights (largest remainder, deterministic)."""
    s = sum(weights)
    raw = [w * total / s for w in weights]
    out = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))[: total - sum(out)]:
        out[i] += 1
    return out


def too_close_to_dev(text, dev_words):
    ws = word_set(text)
    return any(jaccard(ws, d) >= MAX_DEV_TRAIN_JACCARD for d in dev_words)


def conv_key(history, prompt):
    return " | ".join(normalize(m["content"]) for m in history) + " || " + normalize(prompt)


def build_ext(seen_norm, dev_texts):
    """Records 2001 onwards: single-turn prompts and multi-turn records, from their own seeded RNG."""
    rng = random.Random(EXT_SEED)
    dev_norm = {normalize(t) for t in dev_texts}
    dev_words = [word_set(t) for t in dev_texts]
    rows = []
    for cat in CATEGORIES:
        gens, mt_gen = EXT_PLAN[cat]
        quotas = allocate([q for _, q in gens], EXT_SINGLE_PER_CATEGORY)
        for (gen, _), quota in zip(gens, quotas):
            got = attempts = 0
            while got < quota:
                attempts += 1
                if attempts > quota * 200:
                    raise RuntimeError(f"{cat}/{gen.__name__}: only {got}/{quota} unique prompts")
                text = gen(rng)
                n = normalize(text)
                if n in seen_norm or n in dev_norm or too_close_to_dev(text, dev_words):
                    continue
                seen_norm.add(n)
                rows.append({"category": cat, "prompt": text})
                got += 1
        seen_conv = set()
        got = attempts = 0
        while got < EXT_MULTI_PER_CATEGORY:
            attempts += 1
            if attempts > EXT_MULTI_PER_CATEGORY * 200:
                raise RuntimeError(f"{cat}/{mt_gen.__name__}: only {got} unique conversations")
            history, prompt = mt_gen(rng)
            key = conv_key(history, prompt)
            users = [m["content"] for m in history if m["role"] == "user"] + [prompt]
            if key in seen_conv or any(normalize(u) in dev_norm or too_close_to_dev(u, dev_words) for u in users):
                continue
            seen_conv.add(key)
            rows.append({"category": cat, "history": history, "prompt": prompt})
            got += 1
    rng.shuffle(rows)
    return rows


# ---------------------------------------------------------------------------
# DEV SET (handwritten separately; phrasings and topics differ from training)
# ---------------------------------------------------------------------------

DEV = {
    "code": [
        "Write a Python function that turns a list of (name, score) pairs into a dictionary of names to scores.",
        "In JavaScript, how would you get the last word of a sentence? Write a small function.",
        "Explain what this Python line does: print(sum(range(1, 101)))",
        "Using Python, write a function that tells whether every number in a list is odd.",
        "Show a Python function that converts a number of minutes into a string like '2h 15m'.",
        "Write a Python loop that prints the letters of the word 'ocean' one per line.",
        "What is a Python module, and how is it different from a package?",
        "Write a JavaScript snippet that logs every item of a shopping list array with its position.",
        "I'd like a Python function to find the most frequent word in a paragraph.",
        "Here is some code:\n\n```python\nscores = {\"ana\": 7, \"bo\": 9}\nbest = max(scores, key=scores.get)\nprint(best)\n```\n\nWhat does it print, and why?",
        "Write a Python function that checks whether a hex color code such as '#1a2b3c' is valid.",
        "Create a Python function that splits a full name into first name and last name.",
        "When should I use a tuple instead of a list?",
        "Write a SQL query that lists every city in a table called weather(city, day, rainfall_mm) where the total rainfall is above 100.",
        "Write a Python function that returns the weekday name for a number from 0 (Monday) to 6 (Sunday).",
        "Write a JavaScript function that clamps a number between a minimum and a maximum.",
        "Explain the difference between a syntax highlighter and a linter.",
        "Write a Python function that masks all but the last four digits of a card number with asterisks.",
        "This Python code prints 'None'. Why?\n\n```python\ndef double(x):\n    x * 2\n\nprint(double(4))\n```",
        "Write a Python function that takes a list of temperatures and returns how many days were below freezing.",
    ],
    "math": [
        "A bakery sells muffins in packs of 6. How many packs are needed for 45 muffins?",
        "Lina walks 1.5 km to school and 1.5 km back every day for 5 days. How far does she walk in total?",
        "What is 48 times 25? Show a quick way to work it out.",
        "A tank holds 240 liters and is three-quarters full. How many liters are in it?",
        "A shirt costs $28 and jeans cost $45. With a $10 coupon, how much do both cost?",
        "How many weeks and days are there in 100 days?",
        "A school has 260 students and 15 out of every 100 take the bus. How many students take the bus?",
        "A square garden has an area of 81 square meters. How long is each side?",
        "If 4 notebooks cost $10, how much do 10 notebooks cost?",
        "A class of 28 students splits into teams of 4. How many teams are there?",
        "What is 7 cubed?",
        "A bus leaves at 8:45 and the trip takes 1 hour and 35 minutes. When does it arrive?",
        "What number is halfway between 36 and 90?",
        "A recipe uses 300 grams of flour for 12 cookies. How much flour is needed for 30 cookies?",
        "Which two whole numbers greater than 1 multiply to make 91?",
        "Write 3/8 as a percentage.",
        "A phone battery drops 12 percentage points every hour. Starting at 100%, after how many hours will it be at 40%?",
        "What is the perimeter of a regular hexagon with sides of 7 cm?",
        "Order these numbers from smallest to largest: 0.3, 1/4, 0.28, 2/5.",
        "Mika scored 72, 85 and 90 on three tests. What score does she need on the fourth test to average 85?",
    ],
    "explain": [
        "How does a cactus survive with so little water?",
        "Explain what a tide table is and who uses one.",
        "Is a caldera just a big crater? Explain.",
        "How do fireworks get their colors?",
        "Explain in plain words why airplanes fly at high altitudes.",
        "What does a kidney bean have in common with a real kidney?",
        "How do bats find their way in the dark?",
        "What is the purpose of a city's sewer system?",
        "Why do some rivers flood every spring?",
        "Explain what jet lag is and why it happens.",
        "What is a sundial and how is it read?",
        "How do silkworms make silk, and why do people collect it?",
        "Heatwave or drought: how can you tell them apart?",
        "How does a vending machine know which coin was inserted?",
        "Explain what an encyclopedia is to someone who has never seen one.",
        "Why are road signs different shapes and colors?",
        "How does a piano make sound when you press a key?",
        "What is a watershed moment, and where does the phrase come from?",
        "How do maple trees produce syrup?",
        "Explain how a canal lock lets boats move between different water levels.",
    ],
    "chat": [
        "A kettle sings every morning: turn that into a short poem.",
        "My friend just adopted a kitten. What should I write in a card to congratulate her?",
        "Tell me a short story about a violin that can only play happy songs.",
        "Compose a polite message to a café asking whether they can host a small book club on Thursdays.",
        "I want to start painting with watercolors. Where should I begin?",
        "Rewrite this in a warmer tone: \"Your request has been received and will be processed.\"",
        "Help me plan a picnic menu for six people with no cooking required.",
        "Compose a haiku set at a snowy bus stop.",
        "Invent a new holiday and describe how people celebrate it.",
        "Give me a playlist theme idea for a long evening drive.",
        "Write a cheerful out-of-office reply for a one-week vacation.",
        "I'm hosting a game night. Suggest a few icebreaker questions.",
        "Could you write a limerick starring a forgetful goldfish?",
        "Hi there! What's a good book genre to try if I usually read mysteries?",
        "Write a short letter from a tree to the birds that live in it.",
        "How can I encourage my younger brother to read more?",
        "Describe a bustling night market using all five senses.",
        "Write a short farewell message for a coworker who is retiring.",
        "Suggest a name and a one-line motto for a community vegetable garden.",
        "Write a short conversation between two astronauts deciding what to have for dinner.",
    ],
}


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------

def normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def word_set(text: str) -> frozenset:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / max(1, len(a | b))


def build_category(rng, generators, handwritten, seen_norm):
    prompts = []
    for text in handwritten:
        n = normalize(text)
        assert n not in seen_norm, f"duplicate handwritten prompt: {text!r}"
        seen_norm.add(n)
        prompts.append(text)
    for gen, quota in generators:
        keys = set()
        got = 0
        attempts = 0
        while got < quota:
            attempts += 1
            if attempts > quota * 200:
                raise RuntimeError(f"{gen.__name__}: only {got}/{quota} unique prompts")
            text, key = gen(rng)
            n = normalize(text)
            if key in keys or n in seen_norm:
                continue
            keys.add(key)
            seen_norm.add(n)
            prompts.append(text)
            got += 1
    return prompts


def build():
    rng = random.Random(SEED)
    seen = set()
    plan = {
        "code": (CODE_GENERATORS, CODE_HANDWRITTEN),
        "math": (MATH_GENERATORS, MATH_HANDWRITTEN),
        "explain": (EXPLAIN_GENERATORS, EXPLAIN_HANDWRITTEN),
        "chat": (CHAT_GENERATORS, CHAT_HANDWRITTEN),
    }
    rows = []
    for cat in CATEGORIES:
        gens, hand = plan[cat]
        prompts = build_category(rng, gens, hand, seen)
        assert len(prompts) == PER_CATEGORY, (cat, len(prompts))
        rows.extend((cat, p) for p in prompts)
    rng.shuffle(rows)
    train = [{"id": f"train-{i:05d}", "category": c, "prompt": p}
             for i, (c, p) in enumerate(rows, start=1)]

    dev = []
    for cat in CATEGORIES:
        assert len(DEV[cat]) == 20, (cat, len(DEV[cat]))
        for p in DEV[cat]:
            dev.append({"id": f"dev-{len(dev) + 1:03d}", "category": cat, "prompt": p})

    # Records 2001 onwards come from a second RNG, so the first 2,000 stay exactly as they were.
    for r in build_ext(seen, [d["prompt"] for d in dev]):
        rec = {"id": f"train-{len(train) + 1:05d}", "category": r["category"], "prompt": r["prompt"]}
        if "history" in r:
            rec["history"] = r["history"]
        train.append(rec)
    return train, dev


def user_texts(row):
    """Every user message of a record: its history's user turns and the final prompt."""
    return [m["content"] for m in row.get("history", ()) if m["role"] == "user"] + [row["prompt"]]


def check(train, dev):
    single = [r["prompt"] for r in train if "history" not in r]
    assert len(set(single)) == len(single), "duplicate training prompt"
    assert len({normalize(t) for t in single}) == len(single), "near-duplicate training prompt"
    convs = [conv_key(r.get("history", []), r["prompt"]) for r in train]
    assert len(set(convs)) == len(convs), "duplicate training conversation"
    for r in train:
        h = r.get("history")
        if h is None:
            continue
        assert h and len(h) % 2 == 0, f"{r['id']}: history must hold user/assistant pairs"
        for k, m in enumerate(h):
            assert set(m) == {"role", "content"} and m["role"] == ("user", "assistant")[k % 2], f"{r['id']}: roles must alternate"
            assert m["content"].strip() == m["content"] and m["content"], f"{r['id']}: empty or padded turn"
    dev_texts = [r["prompt"] for r in dev]
    assert len(set(dev_texts)) == len(dev_texts) == 80, "dev prompts must be 80 distinct strings"
    # Dev prompts against every user message of every training record (history included).
    texts = sorted({t for r in train for t in user_texts(r)})
    train_set = set(texts)
    train_norm = {normalize(t) for t in texts}
    for t in dev_texts:
        assert t not in train_set, f"dev prompt also in train: {t!r}"
        assert normalize(t) not in train_norm, f"dev prompt matches a train prompt up to case/punctuation: {t!r}"
    train_words = [word_set(t) for t in texts]
    worst = (0.0, "", "")
    for t in dev_texts:
        ws = word_set(t)
        for tt, tw in zip(texts, train_words):
            j = jaccard(ws, tw)
            if j > worst[0]:
                worst = (j, t, tt)
    assert worst[0] < MAX_DEV_TRAIN_JACCARD, f"dev prompt too close to train: {worst}"
    for r in train + dev:
        assert r["category"] in CATEGORIES and r["prompt"].strip() == r["prompt"] and r["prompt"]
    return worst


def write_jsonl(path: Path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    train, dev = build()
    worst = check(train, dev)
    write_jsonl(TRAIN_PATH, train)
    write_jsonl(DEV_PATH, dev)
    counts = {c: sum(r["category"] == c for r in train) for c in CATEGORIES}
    dev_counts = {c: sum(r["category"] == c for r in dev) for c in CATEGORIES}
    multi = sum("history" in r for r in train)
    print(f"wrote {len(train)} train prompts to {TRAIN_PATH}: {counts}; {multi} with history ({multi / len(train):.1%})")
    print(f"wrote {len(dev)} dev prompts to {DEV_PATH}: {dev_counts}")
    print(f"closest dev/train pair (word Jaccard {worst[0]:.2f}):\n  dev:   {worst[1]!r}\n  train: {worst[2]!r}")


if __name__ == "__main__":
    main()
