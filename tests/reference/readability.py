"""Reference Flesch-Kincaid grade, the algorithm `rightsbot check` implements in Rust.

grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

- Text: markdown-ish content; a line starting "- " (a list item) counts as its own sentence.
- Sentences: split at . ! ? and at line breaks; empty pieces ignored; at least 1.
- Words: runs of letters (a-z, apostrophes inside words kept); numbers are not words.
- Syllables per word (lower case): count groups of vowels a,e,i,o,u,y; subtract 1 for a final
  silent "e" (word ends in "e" but not "le" after a consonant, and has more than one group);
  at least 1 per word.
"""
import re
import sys

def syllables(word):
    w = word.lower().strip("'")
    groups = re.findall(r"[aeiouy]+", w)
    n = len(groups)
    if n > 1 and w.endswith("e") and not re.search(r"[^aeiouy]le$", w):
        n -= 1
    return max(1, n)

def grade(text):
    sentences = [s for s in re.split(r"[.!?\n]+", text) if re.search(r"[A-Za-z]", s)]
    words = re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", text)
    if not words:
        return 0.0
    s = max(1, len(sentences))
    syl = sum(syllables(w) for w in words)
    return 0.39 * len(words) / s + 11.8 * syl / len(words) - 15.59

if __name__ == "__main__":
    print(round(grade(sys.stdin.read()), 1))
