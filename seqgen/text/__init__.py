"""Text: plain-text corpora and the tokenizers that turn text into ids.

- :mod:`.corpus` - a text corpus as a stream of chunks, split by position; user files and folders
- :mod:`.shakespeare` - the named corpora ``shakespeare`` (offline) and ``tinyshakespeare``
- :mod:`.char`, :mod:`.subword` - the ``char`` tokenizer and the sentencepiece ``bpe``/``unigram`` ones
"""
