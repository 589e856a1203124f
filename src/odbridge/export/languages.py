"""Open Dental's language field (an ISO 639-2 code or custom text) as a BCP 47 language tag.

BCP 47 uses the two-letter ISO 639-1 code where a language has one, and the three-letter
code otherwise. The table holds every ISO 639-1 language with its ISO 639-2 codes (the
terminology code, then the bibliographic one where they differ).
"""

from __future__ import annotations

import re

_TABLE = """
aa:aar ab:abk ae:ave af:afr ak:aka am:amh an:arg ar:ara as:asm av:ava ay:aym az:aze ba:bak
be:bel bg:bul bi:bis bm:bam bn:ben bo:bod/tib br:bre bs:bos ca:cat ce:che ch:cha co:cos
cr:cre cs:ces/cze cu:chu cv:chv cy:cym/wel da:dan de:deu/ger dv:div dz:dzo ee:ewe el:ell/gre
en:eng eo:epo es:spa et:est eu:eus/baq fa:fas/per ff:ful fi:fin fj:fij fo:fao fr:fra/fre
fy:fry ga:gle gd:gla gl:glg gn:grn gu:guj gv:glv ha:hau he:heb hi:hin ho:hmo hr:hrv ht:hat
hu:hun hy:hye/arm hz:her ia:ina id:ind ie:ile ig:ibo ii:iii ik:ipk io:ido is:isl/ice it:ita
iu:iku ja:jpn jv:jav ka:kat/geo kg:kon ki:kik kj:kua kk:kaz kl:kal km:khm kn:kan ko:kor
kr:kau ks:kas ku:kur kv:kom kw:cor ky:kir la:lat lb:ltz lg:lug li:lim ln:lin lo:lao lt:lit
lu:lub lv:lav mg:mlg mh:mah mi:mri/mao mk:mkd/mac ml:mal mn:mon mr:mar ms:msa/may mt:mlt
my:mya/bur na:nau nb:nob nd:nde ne:nep ng:ndo nl:nld/dut nn:nno no:nor nr:nbl nv:nav ny:nya
oc:oci oj:oji om:orm or:ori os:oss pa:pan pi:pli pl:pol ps:pus pt:por qu:que rm:roh rn:run
ro:ron/rum ru:rus rw:kin sa:san sc:srd sd:snd se:sme sg:sag si:sin sk:slk/slo sl:slv sm:smo
sn:sna so:som sq:sqi/alb sr:srp ss:ssw st:sot su:sun sv:swe sw:swa ta:tam te:tel tg:tgk
th:tha ti:tir tk:tuk tl:tgl tn:tsn to:ton tr:tur ts:tso tt:tat tw:twi ty:tah ug:uig uk:ukr
ur:urd uz:uzb ve:ven vi:vie vo:vol wa:wln wo:wol xh:xho yi:yid yo:yor za:zha zh:zho/chi
zu:zul
"""


def _parse(table: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in table.split():
        two, threes = item.split(":")
        for three in threes.split("/"):
            mapping[three] = two
    return mapping


ISO639_2_TO_1: dict[str, str] = _parse(_TABLE)
"""ISO 639-2 code (T or B) → ISO 639-1 code."""

_CODE = re.compile(r"[A-Za-z]{3}")


def iso639_2(value: str | None) -> str | None:
    """The value as a lower-case ISO 639-2 code, or None when it is custom text or empty."""
    if value is None:
        return None
    text = value.strip()
    return text.lower() if _CODE.fullmatch(text) else None


def bcp47(code: str) -> str:
    """The BCP 47 primary language subtag for an ISO 639-2 code."""
    return ISO639_2_TO_1.get(code, code)
