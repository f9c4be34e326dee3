"""Build the self-distillation prompt sets for d2sd-mlx.

The target model (SmolLM2-135M-Instruct) answers these prompts and the
drafters are trained on its answers, so the prompts only need to be short,
varied requests that a small chat model can answer in a few sentences or a
short code snippet.

This script writes two JSONL files next to itself:

* ``train_prompts.jsonl``: 2000 prompts, 500 per category
  (``code``, ``math``, ``explain``, ``chat``). Each category is built from our
  own combinatorial templates and word lists (sampled with a fixed seed) plus
  25 handwritten prompts.
* ``dev_prompts.jsonl``: 80 handwritten prompts, 20 per category, written
  separately with different phrasings and topics. The script asserts that no
  dev prompt equals (or nearly equals) a training prompt.

Every record is ``{"id": ..., "category": ..., "prompt": ...}``.

All templates, word lists and handwritten prompts were written by the d2sd-mlx
team for this file. No public evaluation set (HumanEval, MBPP, GSM8K, MATH,
MT-Bench, Alpaca, LiveCodeBench, AIME, ...) was used, copied or paraphrased.

Standard library only and fully deterministic: running it again produces
byte-identical files.

    python d2sd_mlx/data/make_prompts.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20240611
PER_CATEGORY = 500
CATEGORIES = ("code", "math", "explain", "chat")
OUT_DIR = Path(__file__).resolve().parent
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
    return train, dev


def check(train, dev):
    train_texts = [r["prompt"] for r in train]
    assert len(set(train_texts)) == len(train_texts), "duplicate training prompt"
    assert len({normalize(t) for t in train_texts}) == len(train_texts), "near-duplicate training prompt"
    dev_texts = [r["prompt"] for r in dev]
    assert len(set(dev_texts)) == len(dev_texts) == 80, "dev prompts must be 80 distinct strings"
    train_set = set(train_texts)
    train_norm = {normalize(t) for t in train_texts}
    for t in dev_texts:
        assert t not in train_set, f"dev prompt also in train: {t!r}"
        assert normalize(t) not in train_norm, f"dev prompt matches a train prompt up to case/punctuation: {t!r}"
    train_words = [word_set(t) for t in train_texts]
    worst = (0.0, "", "")
    for t in dev_texts:
        ws = word_set(t)
        for tt, tw in zip(train_texts, train_words):
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
    print(f"wrote {len(train)} train prompts to {TRAIN_PATH}: {counts}")
    print(f"wrote {len(dev)} dev prompts to {DEV_PATH}: {dev_counts}")
    print(f"closest dev/train pair (word Jaccard {worst[0]:.2f}):\n  dev:   {worst[1]!r}\n  train: {worst[2]!r}")


if __name__ == "__main__":
    main()
