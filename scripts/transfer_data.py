#!/usr/bin/env python3
"""Builds the transfer benchmark's tasks and the base encoder's pretraining
corpus from the real text reachable on this machine (scripts/fetch-transfer-data
calls it; Python standard library only).

transfer_data.py --spam DIR --sotu DIR --brown DIR --fortunes DIR
                 --gcide FILE.dict.dz --out DIR

Writes into OUT (every TSV `text<TAB>label` with a header row):

  sotu-party/{train,dev,test}.tsv   State of the Union passages (consecutive
      sentences up to 64 words) -> the speaker's party, democratic or
      republican (the 182 addresses of those two parties; the others go to
      pretraining only). Split by address: 80/10/10 per party.
  spam/{train,dev,test}.tsv         SpamAssassin emails -> spam or ham: the
      subject and the body (text/plain part, else text/html without tags;
      no other header), first 256 words; exact duplicates dropped. Split by
      email, 80/10/10 per label.
  fortunes/{train,dev,test}.tsv     Debian `fortunes` -> the file it comes
      from (every file of at least 100 fortunes: 31 categories, many
      classes, short texts); texts appearing in several files dropped.
      80/10/10 per category.
  gcide-pos/{train,dev,test}.tsv    GCIDE (1913 Webster) definitions -> the
      headword's part of speech (noun, verb, adjective, adverb), the text of
      the first sense without the headword line, etymology or citations.
      A sample of 24,000 entries, 20,000/2,000/2,000. The benchmark keeps
      this task out of all tuning.
  pretrain/corpus.txt   one document a line: every SOTU address outside
      sotu-party's dev and test splits, the Brown training documents, the
      training emails' bodies, the training fortunes (one category a line),
      and the definitions of GCIDE entries outside gcide-pos's dev and test
      splits (up to 2,500,000 words of them), so no dev or test text of any
      task is pretrained on.
  pretrain/dev.txt      held-out documents for the masked-LM accuracy: the
      dev splits' texts of the four tasks and Brown's dev documents.
  stats.json            sizes of every split and the label counts.
"""
import argparse
import collections
import email
import email.policy
import glob
import gzip
import html
import json
import os
import random
import re
import sys

SEED = 20261207


def words(text):
    return " ".join(text.split())


def split3(items, rng):
    """80/10/10 of a list (shuffled in place), dev and test at least one."""
    rng.shuffle(items)
    held = max(1, round(len(items) * 0.1))
    return items[2 * held:], items[:held], items[held:2 * held]


def write_tsv(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("text\tlabel\n")
        for text, label in rows:
            assert "\t" not in text and "\n" not in text and text
            f.write(f"{text}\t{label}\n")


# ---------------------------------------------------------------- SOTU party
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def passages(speech, limit=64):
    """Consecutive sentences joined while they fit `limit` words (a longer
    sentence is a passage of its own, cut at `limit`)."""
    out, current = [], []
    for sentence in SENTENCE.split(speech):
        tokens = sentence.split()
        if not tokens:
            continue
        if current and len(current) + len(tokens) > limit:
            out.append(" ".join(current))
            current = []
        current += tokens
        if len(current) >= limit:
            out.append(" ".join(current[:limit]))
            current = []
    if current:
        out.append(" ".join(current))
    return [p for p in out if len(p.split()) >= 8]


def sotu(directory, rng):
    files = sorted(glob.glob(os.path.join(directory, "*.txt")))
    assert len(files) == 233, f"expected 233 addresses, found {len(files)}"
    party = {"d": "democratic", "r": "republican"}
    by_party = collections.defaultdict(list)
    texts = {}
    for path in files:
        text = open(path, encoding="utf-8").read()
        texts[path] = words(re.sub(r"[\x00-\x1f\x7f]", " ", text))
        code = os.path.basename(path)[:-4].rsplit("_", 1)[1]
        if code in party:
            by_party[party[code]].append(path)
    splits = {"train": [], "dev": [], "test": []}
    held = set()
    for label in sorted(by_party):
        train, dev, test = split3(sorted(by_party[label]), rng)
        for name, part in (("train", train), ("dev", dev), ("test", test)):
            for path in sorted(part):
                splits[name] += [(p, label) for p in passages(texts[path])]
        held.update(dev + test)
    pretrain = [texts[p] for p in files if p not in held]
    return splits, pretrain


# ---------------------------------------------------------------- SpamAssassin
TAG = re.compile(r"<[^>]*>")


def decode(part):
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = str(part.get_payload()).encode("utf-8", "replace")
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def email_text(raw):
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = str(message.get("Subject", "") or "")
    chosen = None
    for kind in ("text/plain", "text/html"):
        for part in message.walk():
            if part.get_content_type() == kind and not part.is_multipart():
                chosen = part
                break
        if chosen:
            break
    body = decode(chosen) if chosen else ""
    if chosen is not None and chosen.get_content_type() == "text/html":
        body = html.unescape(TAG.sub(" ", re.sub(
            r"(?is)<(script|style)[^>]*>.*?</\1>", " ", body)))
    clean = lambda s: words(re.sub(r"[\x00-\x1f\x7f]", " ", s))
    return clean(subject), clean(body)


def spam(directory, rng):
    emails = collections.defaultdict(list)
    seen = set()
    for group in ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"):
        label = "spam" if group.startswith("spam") else "ham"
        for path in sorted(glob.glob(os.path.join(directory, group, "*.txt"))):
            subject, body = email_text(open(path, "rb").read())
            text = " ".join((subject + " " + body).split()[:256])
            if not text or text in seen:
                continue
            seen.add(text)
            emails[label].append((text, body))
    assert sum(len(v) for v in emails.values()) > 5000, "too few emails"
    splits = {"train": [], "dev": [], "test": []}
    pretrain = []
    for label in sorted(emails):
        train, dev, test = split3(emails[label], rng)
        for name, part in (("train", train), ("dev", dev), ("test", test)):
            splits[name] += [(text, label) for text, _ in part]
        pretrain += [body for _, body in train if body]
    return splits, pretrain


# ---------------------------------------------------------------- fortunes
def fortunes(directory, rng):
    labels = collections.defaultdict(set)
    by_file = {}
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        name = os.path.basename(path)
        if "." in name or not os.path.isfile(path):
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        items = [words(t) for t in re.split(r"(?m)^%$", text)]
        items = [t for t in items if t]
        by_file[name] = items
        for t in items:
            labels[t].add(name)
    categories = sorted(n for n, items in by_file.items() if len(items) >= 100)
    assert len(categories) >= 25, f"only {len(categories)} fortune files"
    splits = {"train": [], "dev": [], "test": []}
    pretrain = []
    for name in categories:
        items = sorted(set(t for t in by_file[name] if len(labels[t]) == 1))
        train, dev, test = split3(items, rng)
        for split, part in (("train", train), ("dev", dev), ("test", test)):
            splits[split] += [(t, name) for t in part]
        pretrain.append(" ".join(train))
    return splits, pretrain


# ---------------------------------------------------------------- GCIDE
POS = [("v. t.", "verb"), ("v. i.", "verb"), ("v.", "verb"),
       ("adv.", "adverb"), ("a.", "adjective"), ("n.", "noun")]
HEAD = re.compile(r"^(\S[^\\]*?) \\[^\\]*\\, ([a-z. ]+?)(?:[,;] | \[|$)")


def gcide_entries(path):
    """(label or None, definition text) of every entry of the dictd file."""
    text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
    entries = []
    label, body = None, None
    for line in text.split("\n"):
        if line and not line[0].isspace():
            if body is not None:
                entries.append((label, body))
            match = HEAD.match(line)
            label, body = None, []
            if match:
                pos = match.group(2).strip()
                label = next((l for p, l in POS if pos == p), None)
                # The rest of the head line (an etymology's start).
                body.append(line[match.end(2):].lstrip(",; "))
            else:
                body = None  # not an entry's head line (dictd's own lines)
            continue
        if body is not None:
            body.append(line.strip())
    if body is not None:
        entries.append((label, body))
    out = []
    for label, lines in entries:
        # The first sense: up to the first [1913 Webster] (or [PJC], ...).
        sense = []
        for line in lines:
            if re.match(r"^\[[^\]]*\]$", line) and sense:
                break
            sense.append(line)
        t = " ".join(sense)
        t = re.sub(r"\[['`\"^~=.,:]([A-Za-z]{1,2})\]", r"\1", t)  # m['e]tal
        while True:                                    # etymology, [R.], [Obs.]
            shorter = re.sub(r"\[[^\[\]]*\]", " ", t)
            if shorter == t:
                break
            t = shorter
        t = t[t.rfind("]") + 1:]                       # a bracket opened earlier
        t = re.sub(r"[{}]", "", t)                     # {Cross} references
        t = re.sub(r"--\s*[A-Z][\w.' ]*", " ", t)      # --Bailey. citations
        t = re.sub(r"^\s*1\.\s*", "", t)
        t = re.sub(r"\([A-Z][a-z]+\.\)", " ", t)       # (Anat.) field labels
        t = words(t)
        if len(t.split()) >= 3:
            out.append((label, t))
    return out


def gcide(path, rng):
    entries = gcide_entries(path)
    labelled = [(t, l) for l, t in entries if l]
    assert len(labelled) > 50000, f"only {len(labelled)} labelled entries"
    order = list(range(len(labelled)))
    rng.shuffle(order)
    sample = order[:24000]
    splits = {"train": [labelled[i] for i in sample[:20000]],
              "dev": [labelled[i] for i in sample[20000:22000]],
              "test": [labelled[i] for i in sample[22000:]]}
    held = {labelled[i][0] for i in sample[20000:]}
    pretrain, budget = [], 2_500_000
    for _, t in entries:
        if t in held:
            continue
        budget -= len(t.split())
        if budget < 0:
            break
        pretrain.append(t)
    # Documents of about 200 words of consecutive definitions.
    documents, current = [], []
    for t in pretrain:
        current.append(t)
        if sum(len(c.split()) for c in current) >= 200:
            documents.append(" ".join(current))
            current = []
    if current:
        documents.append(" ".join(current))
    return splits, documents


def main():
    p = argparse.ArgumentParser()
    for name in ("spam", "sotu", "brown", "fortunes", "gcide", "out"):
        p.add_argument("--" + name, required=True)
    args = p.parse_args()
    tasks, pretrain = {}, []
    builders = [("sotu-party", lambda r: sotu(args.sotu, r)),
                ("spam", lambda r: spam(args.spam, r)),
                ("fortunes", lambda r: fortunes(args.fortunes, r)),
                ("gcide-pos", lambda r: gcide(args.gcide, r))]
    for name, build in builders:
        splits, text = build(random.Random(f"{SEED}-{name}"))
        tasks[name] = splits
        pretrain.append((name, text))
        print(f"transfer_data.py: {name}: " + ", ".join(
            f"{k} {len(v)}" for k, v in splits.items()), file=sys.stderr)
    stats = {"tasks": {}, "pretrain": {}}
    for name, splits in tasks.items():
        for split, rows in splits.items():
            write_tsv(os.path.join(args.out, name, split + ".tsv"), rows)
        stats["tasks"][name] = {
            split: {"examples": len(rows),
                    "labels": dict(sorted(collections.Counter(l for _, l in rows).items()))}
            for split, rows in splits.items()}
    brown_train = open(os.path.join(args.brown, "train-documents.txt"),
                       encoding="utf-8").read().split("\n")
    pretrain.insert(1, ("brown", [d for d in brown_train if d.strip()]))
    os.makedirs(os.path.join(args.out, "pretrain"), exist_ok=True)
    with open(os.path.join(args.out, "pretrain", "corpus.txt"), "w",
              encoding="utf-8", newline="\n") as f:
        for name, documents in pretrain:
            count = sum(len(d.split()) for d in documents)
            stats["pretrain"][name] = {"documents": len(documents), "words": count}
            for d in documents:
                f.write(words(d) + "\n")
    # Held-out masked-LM text: the tasks' dev texts and Brown's dev split.
    with open(os.path.join(args.out, "pretrain", "dev.txt"), "w",
              encoding="utf-8", newline="\n") as f:
        for name, splits in tasks.items():
            f.write(" ".join(t for t, _ in splits["dev"]) + "\n")
        brown_dev = [line.split("\t")[0] for line in
                     open(os.path.join(args.brown, "genre15", "dev.tsv"),
                          encoding="utf-8").read().split("\n")[1:] if line]
        f.write(" ".join(brown_dev) + "\n")
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
