#!/usr/bin/env python3
"""Builds Sealdrop's codename word lists (crates/core/wordlists/*.txt).

Run from anywhere:  python3 crates/core/wordlists/build.py
Needs (pinned; see README.md for licences):
    pip install mnemonic==0.21 wordfreq==3.1.1 pymorphy3==2.0.6 \
        pymorphy3-dicts-ru==2.4.417150.4580142 pymorphy3-dicts-uk==2.4.1.1.1663094765
The Rust build never runs this: its output is committed, and include_str! compiles it in.

Rules every list must meet (crates/core/src/codename/tests.rs checks them again):
  * exactly 2048 distinct words, lowercase, letters of the language's script only, 3-8 letters;
  * the first 4 letters of each word (after normalisation: NFC, lowercase, ё -> е) are unique
    across ALL lists, and no normalised word is in two lists -- so a word, or its first
    4 letters, names one index whatever list it was typed from.
"""
import os
import re
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 2048

# Words no list may hold: insults, obscenity, and words that frighten or accuse (a codename is
# shown to a frightened relative and may be found on a phone). Checked against every list.
BLOCK = set("""
kill dead death die bomb gun war arrest prison jail police spy torture blood enemy suicide
sex drug crime victim secret guilty hate drunk naked
смерть труп бомба война арест тюрьма полиция шпион пытка кровь враг суицид секс наркотик
преступник жертва секрет виновный пьяный голый убийца убийство расстрел взрыв оружие
допрос милиция казнь палач насилие теракт агент донос аборт приговор отчаяние ужас турок
казак курение рабство смертник расизм террор фашист нацист мафия бандит вор проститутка
изнасилование суд прокурор следователь конвой пленный беженец депортация граница
говно дебил дурак идиот козел сволочь сук сука урод шлюха гад гадость член мат кинг стоун
изабелла камаз аллах бог богиня ислам мечеть церковь боль вдова гибель гроб кладбище могила
лагерь зона плен пуля ранение сражение стрельба фашизм рак рака путина
смерть труп бомба війна арешт тюрма поліція шпигун катування кров ворог секс наркотик злочин
жертва таємниця вбивця вбивство розстріл вибух зброя допит міліція страта кат насильство
теракт агент донос
""".split())

SCRIPTS = {
    "en": re.compile(r"^[a-z]+$"),
    "ru": re.compile(r"^[а-яё]+$"),
    "uk": re.compile(r"^[абвгґдеєжзиіїйклмнопрстуфхцчшщьюя]+$"),
}


def norm(word):
    """The Rust side's normalisation (codename/normalize.rs): NFC, lowercase, ё -> е."""
    return unicodedata.normalize("NFC", word).lower().replace("ё", "е")


def key(word):
    return norm(word)[:4]


def english():
    """BIP-39's English list as python-mnemonic ships it, in its own order."""
    import mnemonic

    words = mnemonic.Mnemonic("english").wordlist
    assert len(words) == SIZE
    words = list(words)
    # BIP-39 meets our rules as it is, but holds words a frightened source should not have to
    # keep on a phone ("arrest", "prison", "spy", ...). Each takes, in place, the next of these
    # concrete nouns whose first 4 letters are free.
    spare = iter("bagel beret bonnet crayon daisy falcon gecko hazel kettle lantern mitten "
                 "nectar nutmeg pebble poppy quilt robin spruce teapot tulip yogurt".split())
    for i, w in enumerate(words):
        if w in BLOCK:
            keys = {key(x) for x in words}
            r = next(r for r in spare if key(r) not in keys and r not in words)
            print("en: replacing", w, "with", r)
            words[i] = r
    return words


# Tags that mark a noun as a name, slang, an abbreviation or otherwise a poor codename word.
SKIP_TAGS = {
    "Name", "Surn", "Patr", "Geox", "Orgn", "Trad", "Abbr", "Infr", "Slng", "Arch", "Litr",
    "Erro", "Dist", "Init", "Fixd", "Ms-f", "Pltm", "Sgtm", "Subx", "Supr", "Qual", "Apro",
    "Anum", "Poss", "V-be", "V-en", "V-ie", "V-bi", "Vpre", "Prnt", "Af-p", "Inmx",
    "Abbr", "Coll",
}


def nouns(lang, taken_words, taken_keys):
    """The most frequent common nouns of `lang` in wordfreq that pymorphy3 reads, as their first
    and most probable analysis, as a nominative singular lemma, 3-8 letters, and whose normalised
    form and first 4 letters no earlier word (of this list or an earlier list) holds."""
    import pymorphy3
    import wordfreq

    morph = pymorphy3.MorphAnalyzer(lang=lang)

    def known(p):
        # In the dictionary itself, not guessed from its ending (drops "форд", "лейк", ...).
        return type(p.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"

    script = SCRIPTS[lang]
    chosen, keys = [], set()
    for w in wordfreq.top_n_list(lang, 200000):
        w = unicodedata.normalize("NFC", w)
        if not (3 <= len(w) <= 8) or not script.match(w) or w in BLOCK or norm(w) in BLOCK:
            continue
        parses = morph.parse(w)
        if not parses or parses[0].tag.POS != "NOUN":
            continue

        def plain_noun(p):
            grams = set(str(p.tag).replace(" ", ",").split(","))
            return (
                "NOUN" in grams
                and "nomn" in grams
                and "plur" not in grams  # the Ukrainian dictionary marks no "sing"
                and not grams & SKIP_TAGS
                and p.normal_form.replace("ё", "е") == w.replace("ё", "е")
            )

        if not any(plain_noun(p) and known(p) for p in parses):
            continue
        k = key(w)
        if k in keys or k in taken_keys or norm(w) in taken_words:
            continue
        keys.add(k)
        chosen.append(w)
        if len(chosen) == SIZE:
            break
    assert len(chosen) == SIZE, (lang, len(chosen))
    return sorted(chosen, key=norm)


def main():
    lists = {"en": english()}
    taken_words = {norm(w) for w in lists["en"]}
    taken_keys = {key(w) for w in lists["en"]}
    # Ukrainian was tried with pymorphy3-dicts-uk: it does not mark place names, personal names
    # or obscenity, and its list held slurs and towns. Not shipped until a better source is found
    # (README.md says what the page offers instead).
    for lang in ("ru",):
        words = nouns(lang, taken_words, taken_keys)
        lists[lang] = words
        taken_words |= {norm(w) for w in words}
        taken_keys |= {key(w) for w in words}
    for lang, words in lists.items():
        assert len(set(map(norm, words))) == SIZE
        with open(os.path.join(HERE, lang + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(words) + "\n")
        print(lang, len(words), "words,", "e.g.", " ".join(words[:: SIZE // 8]))


if __name__ == "__main__":
    main()
