"""Text rules every service shares: title and author normalisation, display forms, stable keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

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
NAME_SUFFIXES = {"jr": "jr", "jnr": "jr", "junior": "jr", "sr": "sr", "snr": "sr", "senior": "sr",
             "ii": "ii", "iii": "iii", "iv": "iv"}  # fmt: skip
_SUFFIX_DISPLAY = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV"}
_VOWELS = frozenset("AEIOUY")


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
    return NAME_SUFFIXES.get(fold_accents(part).strip().rstrip(".").rstrip())


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


def main_title_key(title: str) -> str:
    return normalise_title(title_without_subtitle(title))


def book_id_for(title: str, first_author: str) -> str:
    """Id of a generated book; the generator and any replay derive the same one."""
    return stable_key("bk", main_title_key(title), normalise_author(first_author))


def work_key_for(title: str, primary_author: str) -> str:
    """Key of a work nobody has seen yet: enrichers deciding independently, and the synthetic
    work of an unresolved book, all land on the same key for the same title and author."""
    return stable_key("wk", main_title_key(title), normalise_author(primary_author))


def author_key_for(name: str) -> str:
    return stable_key("au", normalise_author(name))
