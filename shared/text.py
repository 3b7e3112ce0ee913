"""Text rules every service shares: title and author normalisation, similarity, stable keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz

# Letters NFKD does not decompose into base + accent; folded by hand so they are not lost.
_UNDECOMPOSED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ð": "d", "þ": "th", "ł": "l",
                               "đ": "d", "\u0131": "i", "ħ": "h"})  # fmt: skip
_APOSTROPHES = re.compile(r"['`\u2018\u2019\u02bc\u00b4]")  # straight, curly, modifier, acute
_NON_WORD = re.compile(r"[\W_]+")
_HAS_WORD = re.compile(r"[^\W_]")
_PARENTHESISED = re.compile(r"\([^)]*\)|\[[^\]]*\]|[()\[\]]")  # groups, then strays
# "L'Étranger", "L'Arminuta": an elided article glued to the first word.
_ELIDED_ARTICLE = re.compile(r"^l['\u2019\u02bc]\s*")
# Library-catalogue inversion: "Overstory, The".
_TRAILING_ARTICLE = re.compile(r",\s*(?:the|a|an)\s*$")
_SUBTITLE_SEPARATOR = re.compile(r":|\s-+\s|\s*[\u2013\u2014]\s*|\(|\[")  # en/em dash
_NAME_TOKEN_SPLIT = re.compile(r"[\s.]+")
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|&|\||\n|\band\b|\bwith\b)\s*", re.IGNORECASE)

ARTICLES = frozenset(
    {
        "the", "a", "an",  # en
        "le", "la", "les", "un", "une",  # fr
        "der", "die", "das", "ein", "eine",  # de
        "el", "los", "las", "una",  # es
    }
)  # fmt: skip
PARTICLES = frozenset({"de", "del", "della", "di", "da", "du", "des", "van", "von", "der", "den",
                       "ter", "le", "la", "bin", "ibn", "al", "y"})  # fmt: skip
_SUFFIXES = {"jr": "jr", "jnr": "jr", "junior": "jr", "sr": "sr", "snr": "sr", "senior": "sr",
             "ii": "ii", "iii": "iii", "iv": "iv"}  # fmt: skip
_SUFFIX_DISPLAY = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV"}
_VOWELS = frozenset("AEIOUY")

AUTHORS_AGREE = 0.6
"""author_agreement at or above this means "same author": the surname agrees and no given name
contradicts it (initials and missing middle names are fine, "Stephen" vs "Tabitha" is not)."""
AUTHORS_UNKNOWN = 0.5
"""author_agreement when one side lists no author: no evidence either way, below AUTHORS_AGREE."""
_SAME_NAME = 1.0
_COMPATIBLE_NAME = 0.85  # "j k rowling" ~ "joanne rowling": initials or an extra middle name
_SURNAME_ONLY = 0.7  # one side gives just the surname
_CONFLICTING_NAME = 0.2  # same surname, different given name or generation: another person
_SURNAME_TYPO = 90.0  # rapidfuzz ratio for "Rowling"/"Rowlings": a spelling slip, same person


def fold_accents(text: str) -> str:
    """Case- and accent-folded text ("Brontë" -> "bronte", "Ø" -> "o", "ß" -> "ss").

    Folds rather than drops, so "Ørsted" and "Orsted" compare equal instead of "rsted";
    case is folded too because every caller compares case-insensitively.
    """
    # NFKD first, so compatibility forms (ligatures, styled maths letters) reach casefold
    # as plain letters.
    lowered = unicodedata.normalize("NFKD", text).casefold().translate(_UNDECOMPOSED)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _drop_leading_articles(words: list[str]) -> list[str]:
    """Leading articles carry no identity ("The Overstory" is "Overstory"); a title that is
    nothing but articles keeps its last word rather than becoming empty."""
    while len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    return words


def normalise_title(title: str) -> str:
    """Comparable form of a title: folded, "&" -> "and", no punctuation or leading article."""
    text = _ELIDED_ARTICLE.sub("", fold_accents(title).strip())
    text = _TRAILING_ARTICLE.sub("", text)
    text = _APOSTROPHES.sub("", text.replace("&", " and "))
    return " ".join(_drop_leading_articles(_NON_WORD.sub(" ", text).split()))


def title_without_subtitle(title: str) -> str:
    """The main title before ":", " - ", a dash or "(": "Educated: A Memoir" -> "Educated".

    Editions of one work differ mostly in what follows the main title (marketing subtitles,
    "Parts One and Two", "(A Novel)"), so keys and matches use the main title.
    """
    head = _SUBTITLE_SEPARATOR.split(title, maxsplit=1)[0].strip()
    return head or title.strip()


def has_subtitle(title: str) -> bool:
    return title_without_subtitle(title) != title.strip()


def full_title(title: str, subtitle: str | None) -> str:
    """Title and subtitle as one string, the shape most catalogues print."""
    return f"{title}: {subtitle}" if subtitle else title


def _suffix_of(part: str) -> str | None:
    """ "jr" for "Jr." or " JR "; one word only, so the initials "J R" are not a suffix."""
    return _SUFFIXES.get(fold_accents(part).strip().rstrip(".").rstrip())


def _natural_order(name: str) -> tuple[list[str], str | None]:
    """(tokens in "Given Surname" order, canonical suffix). Undoes "Surname, Given[, Jr.]"."""
    parts = [p.strip() for p in _PARENTHESISED.sub(" ", name).split(",") if p.strip()]
    suffixes = [s for s in (_suffix_of(p) for p in parts[1:]) if s]
    parts = parts[:1] + [p for p in parts[1:] if not _suffix_of(p)]
    if len(parts) == 2:
        parts = [parts[1], parts[0]]
    tokens = [t for t in _NAME_TOKEN_SPLIT.split(" ".join(parts)) if _HAS_WORD.search(t)]
    if not suffixes and len(tokens) > 1 and (suffix := _suffix_of(tokens[-1])):
        suffixes, tokens = [suffix], tokens[:-1]
    return tokens, (suffixes[0] if suffixes else None)


def _name_tokens(tokens: list[str]) -> list[str]:
    """Tokens in original case; "J.K." and "JK"/"JRR" (initials run together) become letters.

    Run-together initials are 2-3 capitals before the surname, and either without a vowel or
    in a name that is not all in capitals: "JK Rowling" splits, "LEE CHILD" and "Amy TAN" don't.
    """
    all_caps = " ".join(tokens).isupper()
    out: list[str] = []
    for index, token in enumerate(tokens):
        is_initials = (
            index < len(tokens) - 1
            and token.isalpha()
            and token.isupper()
            and 2 <= len(token) <= 3
            and (not all_caps or not _VOWELS & set(token))
        )
        out.extend(token if is_initials else [token])
    return out


def normalise_author(name: str) -> str:
    """Display-independent key of a name: "Rowling, J.K.", "JK Rowling" -> "j k rowling".

    Inversion is undone, initials split, accents folded, hyphens and dots become spaces,
    particles ("de", "van") stay in place, a generational suffix is kept last as "jr"/"sr"/"iii",
    roles in brackets ("(translator)") are dropped. Idempotent.
    """
    ordered, suffix = _natural_order(name)
    words: list[str] = []
    for token in _name_tokens(ordered):
        folded = _APOSTROPHES.sub("", fold_accents(token))
        words.extend(_NON_WORD.sub(" ", folded).split())
    if suffix and words:
        words.append(suffix)
    return " ".join(words)


def _display_token(token: str, index: int, uniform_case: bool) -> str:
    if len(token) == 1 and token.isalpha() and len(token.upper()) == 1:  # not "ß" -> "SS"
        return f"{token.upper()}."
    if not uniform_case:
        return token
    lowered = token.lower()
    if index > 0 and lowered in PARTICLES:
        return lowered
    return "-".join(part.capitalize() for part in lowered.split("-"))


def display_author(name: str) -> str:
    """Tidy display form: "J.K. Rowling" / "Rowling, JK" -> "J. K. Rowling". Idempotent.

    Capitalisation is only rewritten for names typed all in lower or upper case ("LEE CHILD"),
    so mixed-case spellings such as "McCarthy" or "Ursula K. Le Guin" survive as written.
    """
    ordered, suffix = _natural_order(name)
    tokens = _name_tokens(ordered)
    words_only = " ".join(t for t in tokens if len(t) > 1)  # initials are upper-cased anyway
    uniform_case = words_only.islower() or words_only.isupper()
    words = [_display_token(t, i, uniform_case) for i, t in enumerate(tokens)]
    if suffix and words:
        words.append(_SUFFIX_DISPLAY[suffix])
    return " ".join(words)


def _given_side_is_short(tokens: list[str]) -> bool:
    words = _name_tokens(tokens)
    return len(words) == 1 or all(len(w) == 1 for w in words)


def _looks_inverted(surname_side: str, given_side: str) -> bool:
    """Reads "Rowling, J.K." as one name rather than two authors: one surname word (particles
    aside) before the comma, or just initials / one given name after it. Two mononyms
    ("Homer, Virgil") read as one inverted name: rare in book metadata, and the safer mistake
    (no invented co-author)."""
    given = _natural_order(given_side)[0]
    surname_words = [w for w in surname_side.split() if w.lower() not in PARTICLES]
    return len(surname_words) == 1 or _given_side_is_short(given)


def _comma_names(segment: str) -> list[str]:
    """Names in one "&"/"and"-free segment: "A B, C D" is two, "Rowling, J.K." is one."""
    parts: list[str] = []
    for part in (p.strip() for p in segment.split(",")):
        if not part:
            continue
        if parts and _suffix_of(part):
            parts[-1] = f"{parts[-1]}, {part}"
        else:
            parts.append(part)
    pairs = list(zip(parts[::2], parts[1::2], strict=False))
    if len(parts) % 2 == 0 and all(_looks_inverted(s, g) for s, g in pairs):
        return [f"{s}, {g}" for s, g in pairs]
    return parts


def split_authors(raw: str) -> list[str]:
    """One author string -> names: "A & B", "A and B", "A, B and C", "A; B" split.

    ";", "&", "|", "and", "with" always separate names. A comma separates names unless the
    parts pair up as "Surname, Given" (see _looks_inverted), so "Rowling, J.K." and
    "King, Martin Luther, Jr." stay one name each. Names are returned as written.
    """
    names: list[str] = []
    for segment in _AUTHOR_SEPARATORS.split(raw):
        names.extend(_comma_names(segment))
    return names


def tidy_authors(raw: Iterable[str]) -> list[str]:
    """Display names from loose author strings: split, tidied, duplicates (by key) dropped."""
    seen: set[str] = set()
    names: list[str] = []
    for entry in raw:
        for name in split_authors(entry):
            key = normalise_author(name)
            if key and key not in seen:
                seen.add(key)
                names.append(display_author(name))
    return names


def stable_key(prefix: str, *parts: str) -> str:
    """prefix-<16 hex of sha256>: the same id in every service and every replay.

    Callers pass already normalised parts; whitespace and Unicode composition are evened out
    here so a stray double space cannot split one entity in two. 64 bits: collisions are
    negligible at catalogue scale (~10^7 entities).
    """
    canonical = [" ".join(unicodedata.normalize("NFC", p).split()) for p in parts]
    digest = hashlib.sha256("\x1f".join(canonical).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:16]}"


def _main_title_key(title: str) -> str:
    return normalise_title(title_without_subtitle(title))


def book_id_for(title: str, first_author: str) -> str:
    """Id of a generated book; the generator and any replay derive the same one."""
    return stable_key("bk", _main_title_key(title), normalise_author(first_author))


def work_key_for(title: str, primary_author: str) -> str:
    """Key of a work nobody has seen yet: enrichers deciding independently, and the synthetic
    work of an unresolved book, all land on the same key for the same title and author."""
    return stable_key("wk", _main_title_key(title), normalise_author(primary_author))


def author_key_for(name: str) -> str:
    return stable_key("au", normalise_author(name))


_TITLE_STOPWORDS = ARTICLES | {"and", "of", "in", "on", "to", "for", "with", "de", "del", "des",
                                 "du", "en", "et", "y", "und", "von", "vom", "zu"}  # fmt: skip
_SAME_WORD = 80.0  # rapidfuzz ratio at which two words are one word misspelt ("sing"/"sings")


def _content_words(normalised: str) -> list[str]:
    words = normalised.split()
    return [w for w in words if w not in _TITLE_STOPWORDS] or words


def _word_f1(a: list[str], b: list[str]) -> float:
    """F1 of words matched one to one, allowing misspellings."""
    unused = list(b)
    matched = 0
    for word in a:
        best = max(unused, key=lambda other: fuzz.ratio(word, other), default=None)
        if best is not None and fuzz.ratio(word, best) >= _SAME_WORD:
            unused.remove(best)
            matched += 1
    return 2 * matched / (len(a) + len(b)) if a and b else 0.0


def _pair_similarity(a: str, b: str) -> float:
    """The smaller of a character score and a word score of two normalised titles.

    Characters (token_sort_ratio) forgive typos and word order ("Overstory, The") and keep
    "Dune" vs "Dune Messiah" at 0.5; unlike token_set_ratio / partial_ratio they do not score
    a title contained in another as 1.0. Words catch the long shared series prefix: "Harry
    Potter and the Cursed Child" vs "... the Deathly Hallows" agree on 72 % of the characters
    but on half of the words that matter. Different numbers ("Book 1" / "Book 2") are
    different volumes, so the score is halved.
    """
    if not a or not b:
        return 0.0
    words_a, words_b = _content_words(a), _content_words(b)
    score = min(fuzz.token_sort_ratio(a, b) / 100.0, _word_f1(words_a, words_b))
    numbers_a = {w for w in words_a if w.isdigit()}
    numbers_b = {w for w in words_b if w.isdigit()}
    return score / 2 if numbers_a and numbers_b and numbers_a != numbers_b else score


def title_similarity(a: str, b: str) -> float:
    """0..1 agreement of two titles on normalised text (see _pair_similarity).

    When at most one side has a subtitle, the main titles are compared too ("Educated" vs
    "Educated: A Memoir" is 1.0); when both have different subtitles they must agree as a whole,
    because "Thrawn: Alliances" and "Thrawn: Treason" are different books.
    """
    score = _pair_similarity(normalise_title(a), normalise_title(b))
    if has_subtitle(a) and has_subtitle(b):
        return score
    return max(score, _pair_similarity(_main_title_key(a), _main_title_key(b)))


def _split_name_key(key: str) -> tuple[list[str], str, str | None]:
    """(given names, surname, suffix) of a normalise_author key."""
    words = key.split()
    suffix = words.pop() if len(words) > 1 and words[-1] in _SUFFIXES.values() else None
    return words[:-1], words[-1], suffix


def _given_compatible(short: Sequence[str], long: Sequence[str]) -> bool:
    """Every name of `short` matches, in order, a name of `long` (equal, or initial vs name),
    starting with the first names: "j k" ~ "joanne", "stephen" ~ "stephen edwin"."""

    def same(x: str, y: str) -> bool:
        return x == y or (min(len(x), len(y)) == 1 and x[0] == y[0])

    if not same(short[0], long[0]):
        return False
    remaining = iter(long[1:])
    return all(any(same(name, other) for other in remaining) for name in short[1:])


def name_agreement(a: str, b: str) -> float:
    """0..1: is this the same person? The surname must agree; given names may be initials."""
    key_a, key_b = normalise_author(a), normalise_author(b)
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return _SAME_NAME
    given_a, surname_a, suffix_a = _split_name_key(key_a)
    given_b, surname_b, suffix_b = _split_name_key(key_b)
    factor = 1.0
    if surname_a != surname_b:
        if fuzz.ratio(surname_a, surname_b) < _SURNAME_TYPO:
            return 0.0
        factor = 0.9
    if suffix_a and suffix_b and suffix_a != suffix_b:
        return _CONFLICTING_NAME * factor
    if not given_a or not given_b:
        return _SURNAME_ONLY * factor
    short, long = sorted((given_a, given_b), key=len)
    if not _given_compatible(short, long):
        return _CONFLICTING_NAME * factor
    return (_SAME_NAME if given_a == given_b else _COMPATIBLE_NAME) * factor


def author_agreement(authors_a: Sequence[str], authors_b: Sequence[str]) -> float:
    """0..1: best name_agreement over all pairs, so co-authors and listed editors don't hurt.

    AUTHORS_UNKNOWN when either side names nobody: absence is not disagreement, but it is
    no evidence of agreement either.
    """
    names_a = [n for n in authors_a if normalise_author(n)]
    names_b = [n for n in authors_b if normalise_author(n)]
    if not names_a or not names_b:
        return AUTHORS_UNKNOWN
    return max(name_agreement(x, y) for x in names_a for y in names_b)
