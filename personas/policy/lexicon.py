"""The words the text policy knows, by category, in English and the core terms of other languages.

Categories: minor cues (people, school settings), explicit wording in two tiers (hard: nudity, sex, genitals;
suggestive: lingerie, "sexy", bare-chested), clothing (what a negative prompt must not name on a picture that must
stay clothed), modesty words a negative prompt uses to undress ("sfw", "censored") and adult words a negative
prompt uses to make someone younger. Ages and school grades are numbers, read in `ages.py`.

Lists err on the broad side where a miss draws a minor: a declined request costs a rephrase.
Latin-script words are written folded (no accents: "collegienne", "madchen"); `normalize` folds the text the same
way. Russian and Japanese words are native-script patterns.
"""

from __future__ import annotations

import re

from personas.policy.terms import Glued, Kind, Term, terms

N, V, F = Kind.NOUN, Kind.VERB, Kind.FIXED

# ---- minor cues ------------------------------------------------------------------------------------------------

# Words after "minor"/"kid" that make it an adjective or a thing, not a person: "minor detail", "kids menu".
_MINOR_AS_ADJECTIVE = (
    "detail details issue issues injury injuries change changes key keys chord chords scale scales league leagues "
    "role roles edit edits tweak tweaks problem problems flaw flaws bug bugs fix fixes scratch scratches cut cuts "
    "update updates inconvenience adjustment adjustments point points thing things mistake mistakes error errors "
    "offense offence offenses offences surgery damage repair repairs planet planets party parties setback setbacks "
    "celebrity concern concerns difference differences risk risks glitch glitches annoyance note notes version "
    "character characters third thirds seventh sixth arcana"
)
# Words after "kids"/"children's" that make it about things for children, not a child in the picture.
_FOR_CHILDREN = (
    "menu menus meal meals book books author authors illustrator illustrators literature librarian librarians "
    "charity charities rights advocate advocates section department size sizes tv television channel show shows "
    "program programme programs programmes film films movie movies song songs toy toys store stores clothing"
)
# "nude lipstick", "nude heels": the colour of skin, not a body.
_NUDE_AS_COLOUR = (
    "lipstick lipsticks lip lips lipgloss gloss makeup heels heel pumps shoes sandals flats boots color colour "
    "colored coloured tone tones toned shade shades palette nail nails polish manicure eyeshadow blush beige pink "
    "stockings tights pantyhose hosiery"
)
_MUSIC_KEY = "b c d e f g flat sharp"  # not "a": "she is a minor"
# "law school", "old school": schools for adults, or no school at all.
_ADULT_SCHOOL = (
    "grad graduate law med medical business art arts film nursing dental beauty cooking culinary dance language "
    "driving flight acting music design fashion cosmetology trade vocational night old new divinity engineering "
    "veterinary vet pharmacy barber massage yoga ski surf diving dive fencing riding cookery hotel finishing"
)

MINOR_TERMS: list[Term] = [
    *terms(N, "child, kiddo, kiddie, kiddy, tween, teen, teenager, teenie, adolescent, preteen, pre teen, "
              "loli, lolicon, lolita, shota, shotacon, shotas, toddler, infant, newborn, schoolgirl, schoolboy, "
              "schoolchild, schoolkid, schoolmate, youngster, juvenile, pubescent, prepubescent, tweenager, "
              "middle schooler, high schooler, grade schooler, preschooler, homeschooler, kindergartener, "
              "kindergartner, little girl, little boy, young girl, young boy, little one, jailbait, underage, "
              "under age, underaged, minor girl, minor boy, baby face, babyface"),
    *terms(F, "children, kiddos, childlike, child like, childish body, teenage, teenaged, "
              "teen aged, tweenage, babies, baby faced, barely legal, not of age, not of legal age, puberty, "
              "school aged, school age, under the age of consent, below the age of consent, under age of consent, "
              "under legal age, below legal age, not legal yet, not yet legal, quinceanera, childhood photo, childhood photos, childhood picture, "
              "childhood pictures, childhood pic, childhood self, childhood body"),
    *terms(N, "kid", not_after=_FOR_CHILDREN + " gloves glove leather goat goats"),
    *terms(F, "children's, childrens, child's", not_after=_FOR_CHILDREN),
    *terms(N, "minor", not_after=_MINOR_AS_ADJECTIVE, not_before=_MUSIC_KEY),
    *terms(N, "baby", label="baby", needs_before="a the this that newborn little tiny as infant human real"),
    *terms(F, "baby sister, baby brother, baby daughter, baby son, baby cousin, baby photo, baby photos, "
              "baby picture, baby pictures, baby pic, baby pics, baby doll body"),
    # school settings: a minor cue whatever they are called
    *terms(N, "school", label="school setting", not_before=_ADULT_SCHOOL, not_after="of"),
    *terms(F, "schools, schoolyard, schoolhouse, schoolbus, schoolbag, homeschool, homeschooled, homeschooling, "
              "preschool, kindergarten, junior high, middle school, high school, elementary school, primary school, "
              "grade school, secondary school, sixth form, k 12, classroom, classrooms, homeroom, gym class, "
              "pe class, p e class, school uniform, sailor uniform, sailor fuku, seifuku, randoseru, "
              "report card, student council, daycare, day care, nursery school",
           label="school setting"),
    # other languages (Latin script, folded)
    *terms(F, "menor de edad, menores de edad, adolescente, adolescentes, colegiala, colegialas, escuela, colegio, "
              "secundaria, preparatoria, primaria, escolar, nenita, chiquilla, infantil, "  # es
              "enfant, enfants, fillette, fillettes, gamine, gamines, gamin, gosse, gosses, mineure, mineures, "
              "collegienne, collegiennes, collegien, lyceenne, lyceennes, lyceen, ecoliere, ecolieres, ecolier, "
              "ecole, lycee, petite fille, jeune fille, jeunes filles, "  # fr
              "madchen, maedchen, kleines kind, das kind, ein kind, minderjahrig, minderjaehrig, minderjahrige, "
              "jugendlich, jugendliche, schulerin, schuelerin, schulerinnen, schuler, schueler, schule, "
              "grundschule, gymnasiastin, teenagerin, "  # de
              "crianca, criancas, menina, meninas, menino, meninos, menor de idade, menores de idade, colegial, "
              "colegiais, escola, ensino medio, ensino fundamental, novinha, novinhas, "  # pt
              "bambino, bambina, bambini, bambine, bimba, bimbi, ragazzina, ragazzine, ragazzino, ragazzini, "
              "minorenne, minorenni, adolescenti, scolaretta, scolarette, scolaretto, scuola, liceo, liceale, "
              "liceali, scuola media, "  # it
              "rebenok, devochka, shkolnitsa, shkolnik, shkola, podrostok, "  # ru, typed in Latin letters
              "kodomo, shoujo, shojo, youjo, yojo, joshikousei, joshikosei, joshi kousei, joshi kosei, "
              "joshichuugakusei, chuugakusei, chugakusei, shougakusei, shogakusei, koukousei, kokosei, gakkou, "
              "gakko",  # ja romaji
           label="minor (other language)"),
]  # fmt: skip

MINOR_NATIVE: list[tuple[str, str]] = [
    (r"niñ([ao]s?|it[ao]s?)\b", "minor (other language)"),  # es: niña, niño; "nina" alone is a name
    (
        r"\b(реб[её]н\w*|дет(и|ей|ям|ьми|ях)\b|детск\w*|девочк\w*|мальчик\w*|школьн\w*|школ[аеуыо]\w*|"
        r"несовершеннолетн\w*|подрост\w*|малолет\w*|тинейджер\w*|лоли\b|шота\b)",
        "minor (other language)",
    ),
    (
        r"(子供|子ども|こども|少女|少年|幼女|幼児|児童|未成年|小学生|中学生|高校生|女子高生|女子中学生|(?<!大)学生|"
        r"学校|制服|ロリ|ショタ|ランドセル|園児|女児|男児)",
        "minor (other language)",
    ),
]

_TEEN_AS_NUMBER = re.compile(r"(thir|four|fif|six|seven|eigh|nine|nin|can|velve|ump|s)teen|teenth")
_GLUED_MINOR_WORDS = (
    "loli shota preteen underage schoolgirl schoolboy jailbait toddler tween schooler kindergart madchen maedchen "
    "schulkind schuljunge"
)
MINOR_GLUED: list[Glued] = [
    Glued("teen", "teen", _TEEN_AS_NUMBER),
    *(Glued(word, word) for word in _GLUED_MINOR_WORDS.split()),
]

# ---- explicit wording --------------------------------------------------------------------------------------------

# Garments whose removal undresses someone (a jacket or coat coming off does not).
_CORE_GARMENT = (
    r"(?:clothes|clothing|dress|dresses|shirt|shirts|t ?shirt|top|tops|bra|bras|panties|pants|trousers|underwear|"
    r"knickers|bikini(?: top| bottoms?)?|swimsuit|skirt|jeans|shorts|lingerie|thong|leggings|blouse|uniform|gown|"
    r"ropa|ropas|vetements|habits|kleidung|kleider|klamotten|roupa|roupas|vestiti|mutande|unterwasche|culotte|bh)"
)
_GARMENT = r"(?:" + _CORE_GARMENT + r"|sweater|hoodie|jacket|coat|robe|towel|outfit|apron|sheet|bed ?sheet|blanket)"
_COVER = r"(?:a |an |her |his |my |your |their |some |the |any |all |of )?"
_SMALL_COVER = (
    r"(?:" + _GARMENT + r"|smile|socks|stockings|heels|jewelry|necklace|tie|ribbon|leaves|bubbles|whipped cream)"
)
_E = r"(?<![a-z0-9])"
_UNDRESSING_VERB = (
    r"(?:no|without|minus|sans|remove[sd]?|removing|tak(?:e|es|en|ing) off|took off|pull(?:s|ed|ing)? off|"
    r"rip(?:s|ped|ping)? off|strip(?:s|ped|ping)? off|slip(?:s|ped|ping)? (?:off|out of)|peel(?:s|ed|ing)? off|"
    r"unbutton(?:s|ed|ing)?|unzip(?:s|ped|ping)?|unhook(?:s|ed|ing)?|out of|lose|loses|losing|drop(?:s|ped|ping)?|"
    r"free of|devoid of|bereft of|sin|sem|senza|ohne)"
)

EXPLICIT_HARD: list[Term] = [
    *terms(N, "nude", not_after=_NUDE_AS_COLOUR),
    *terms(F, "naked", not_after="truth eye eyes flame flames bulb lightbulb wire wires ambition aggression greed"),
    *terms(F, "topless", not_after="car cars convertible jeep jeeps bus roof"),
    *terms(F, "bottomless", not_after="brunch brunches mimosa mimosas drink drinks coffee fries pit pits cup cups "
                                      "refill refills glass well"),
    *terms(V, "undress", not_after="salad salads wound wounds lumber timber stone"),
    *terms(F, "breasts", not_before="chicken turkey duck goose quail"),
    *terms(F, "sex", not_after="education ed ratio ratios chromosome chromosomes determination difference "
                               "differences assigned"),
    *terms(N, "nudist, naturist, nipple, areola, boob, boobie, titty, genital, penis, vagina, vulva, clit, "
              "labia, pussy, cock, dick pic, blowjob, blow job, handjob, hand job, footjob, cumshot, creampie, "
              "orgasm, porn, porno, pornstar, porn star, hentai, lewd, smut, ecchi, nude pic, nudie, noods, "
              "stripper, striptease, strip club, lap dance, camgirl, cam girl, thirst trap, dildo, vibrator, "
              "fetish, kink, kinky, bdsm, bondage, dominatrix, escort service, prostitute, hooker, slut, whore, milf, "
              "ahegao, upskirt, downblouse, nip slip, sideboob, side boob, underboob, under boob, cameltoe, "
              "camel toe, birthday suit, nakey, nekkid, nudism, naturism, skinny dip, onlyfans, playboy, "
              "rule 34, r 18, r18, xxx, x rated, fap, jerk off, intercourse, threesome, gangbang, bukkake"),
    *terms(F, "nakedness, nudity, tits, titties, boobies, bare breasted, "
              "bare breast, bare breasts, genitalia, pubic, anal, oral sex, cumming, sexual, sexually, "
              "sexualized, sexualised, sexting, pornographic, pornography, erotic, erotica, eroticism, "
              "nsfw, uncensored, horny, aroused, arousal, unclothed, unclad, disrobed, au naturel, au natural, "
              "nuddy, nuddie, "
              "in the buff, in the nude, in the raw, in the altogether, stark naked, starkers, butt naked, "
              "buck naked, wearing nothing, with nothing on, has nothing on, had nothing on, have nothing on, "
              "nothing on but, not wearing anything, without a stitch, not a stitch, without any clothes, "
              "without clothes, no clothes, "
              "without clothing, no clothing, clothes off, clothing optional, skinny dipping, going commando, "
              "pantyless, pantiless, braless, no bra, no panties, no underwear, without a bra, without panties, "
              "without underwear, spread legs, legs spread, spread her legs, make love, making love, made love, "
              "have sex, having sex, had sex, fuck me, fuck her, fuck him, fucking her, fucking me, "
              "talk dirty, dirty talk, wet t shirt, body paint, body painting, implied nudity, covered only by, "
              "full frontal, exposed breasts, exposed body"),
    *terms(V, "disrobe, masturbate, grope, fondle, molest, rape, sext, strip naked, strip nude, "
              "strip off, strip down, strip for, strip out of"),
    *terms(F, "stripping"),
    *terms(F, "cum", not_after="laude"),
    *terms(F, "explicit", not_after="instructions instruction permission consent lyrics content warning"),
    *terms(N, "spicy pic, spicy photo, spicy selfie, spicy picture, spicy video, naughty pic, naughty photo, "
              "naughty selfie, naughty picture, lewd pic"),
    # other languages (Latin script, folded)
    *terms(F, "desnudo, desnuda, desnudos, desnudas, desnudez, sin ropa, sin nada puesto, encuerada, encuerado, "
              "en pelotas, sexo, porno, pornografia, tetas, pezones, follar, cachonda, erotico, erotica, "  # es
              "nue, nues, tout nu, toute nue, nudite, sexe, sexuel, sexuelle, seins, nichons, deshabille, "
              "deshabillee, a poil, sans vetements, erotique, "  # fr
              "nackt, nackte, nackten, nackter, nacktes, nacktheit, nacktbild, sexuell, titten, bruste, brueste, "
              "ausgezogen, unbekleidet, ohne kleidung, oben ohne, entkleidet, hullenlos, huellenlos, erotisch, "  # de
              "nua, nuas, pelada, pelado, peladas, sem roupa, sem roupas, peitos, seios, tesao, safada, "
              "putaria, "  # pt
              "nuda, nudo, nudi, sesso, sessuale, tette, senza vestiti, spogliata, spogliato, svestita, "
              "svestito, "  # it
              "hadaka, zenra, hanra, nuudo, etchi, sekkusu, oppai, eroge, golaya, golyi",  # ja romaji, ru Latin
           label="explicit (other language)"),
]  # fmt: skip

EXPLICIT_SUGGESTIVE: list[Term] = [
    *terms(F, "sexy, sexier, sexiest, seductive, seductively, seduce, seducing, seduction, sensual, sensually, "
              "provocative, provocatively, suggestive, lingerie, panties, panty, thong, thongs, g string, "
              "negligee, underwear, bra and panties, boudoir, shirtless, bare chested, bare chest, "
              "lenceria, ropa interior, sous vetements, culotte, unterwasche, unterwaesche, dessous, calcinha, "
              "mutande, mutandine, shitagi, undies, skivvies, knickers, unmentionables, something naughty, "
              "something dirty, something spicy, something lewd, naughty pose, leaves nothing to the imagination, "
              "leaving nothing to the imagination"),
]  # fmt: skip

EXPLICIT_HARD_PATTERNS: list[tuple[str, str]] = [
    (_E + _UNDRESSING_VERB + " " + _COVER + _CORE_GARMENT + r"(?![a-z0-9])", "undressed"),
    (_E + _CORE_GARMENT + r" (?:off|removed|gone|on the floor)(?![a-z0-9])", "undressed"),
    (_E + r"(?:wearing|in|dressed in|clad in|with) nothing but(?![a-z0-9])", "undressed"),
    (
        _E + r"(?:bare|naked|exposed|uncovered) " + _COVER + r"(?:bottom|butt|ass|buttocks|behind|body|bod|breasts?|"
        r"nipples?|crotch|genitals|privates|booty|cheeks|torso)(?![a-z0-9])",
        "bare body",
    ),
    (_E + r"nothing but " + _COVER + _SMALL_COVER + r"(?![a-z0-9])", "undressed"),
]
EXPLICIT_SUGGESTIVE_PATTERNS: list[tuple[str, str]] = [
    (
        _E + r"(?:wearing only|only wearing|just wearing|wearing just|in just|in only|only in|dressed only in|"
        r"clad only in|covered only (?:by|in|with)|covered (?:by|in|with) just) "
        + _COVER
        + _SMALL_COVER
        + r"(?![a-z0-9])",
        "barely covered",
    ),
    (
        _E + r"(?:see through|see thru|sheer|transparent|mesh|skimpy|revealing|micro) " + _GARMENT + r"(?![a-z0-9])",
        "revealing clothes",
    ),
    (
        _E + r"(?:in|only|just) (?:a |an |her |his |my |your |only |just )?(?:bra|panties|thong|underwear|"
        r"lingerie|knickers|boxers|briefs|g string)(?![a-z0-9])",
        "underwear",
    ),
]

EXPLICIT_NATIVE: list[tuple[str, str]] = [
    (
        r"(голая|голый|голые|голой|голую|голеньк\w*|обнаж\w*|раздет\w*|раздева\w*|\bсекс\w*|\bпорн\w*|\bэрот\w*|"
        r"сиськ\w*|без одежды|нижн\w* бель\w*|трусик\w*|нагая|нагой|нагишом)",
        "explicit (other language)",
    ),
    (
        r"(裸|はだか|ハダカ|ヌード|全裸|半裸|セックス|エッチ|えっち|エロ|性的|下着|おっぱい|乳首|ポルノ|露出|脱衣|"
        r"ランジェリー)",
        "explicit (other language)",
    ),
]

EXPLICIT_GLUED: list[Glued] = [
    Glued("nude", "nude", re.compile(r"denude")),
    *(Glued(word, word) for word in ("naked", "porn", "hentai", "nsfw", "topless", "nipple", "boobs")),
]

CLOTHING_GLUED: list[Glued] = [
    Glued("pants", "pants"),
    Glued("coat", "coat", re.compile(r"coati|coating")),
    Glued("shirt", "shirt"),
    Glued("skirt", "skirt", re.compile(r"skirting")),
    Glued("jacket", "jacket"),
    Glued("sweater", "sweater"),
    Glued("dress", "dress", re.compile(r"address|dresser|dressage|dressing")),
    Glued("suit", "suit", re.compile(r"pursuit|suite|suitab|lawsuit|suitor|suitcase")),
    Glued("wear", "clothing", re.compile(r"footwear|eyewear|headwear|wearing|wearer|wearable|swear")),
    Glued("kleid", "clothing"),
]

# ---- clothing, modesty and adult words (negative prompts) --------------------------------------------------------

CLOTHING_TERMS: list[Term] = [
    *terms(N, "garment, outfit, dress, shirt, t shirt, tshirt, blouse, sweater, hoodie, sweatshirt, jumper, "
              "cardigan, jacket, coat, blazer, vest, skirt, miniskirt, legging, tights, bra, bikini, swimsuit, "
              "bathing suit, one piece, robe, gown, jumpsuit, overall, kimono, pajama, pyjama, nightgown, "
              "nightie, uniform, costume, tank top, crop top, tube top, halter top, bikini top, turtleneck, "
              "bodysuit, leotard, apron, towel, corset, camisole, cami, tunic, poncho, parka, sundress, tuxedo, "
              "suit, lingerie, thong, negligee, onesie, sarong, shawl, cape, cloak, sweatpant, overcoat, raincoat, "
              "trenchcoat, windbreaker, kleid"),
    *terms(F, "clothes, clothing, clothed, dressed, dressing, apparel, attire, wardrobe, garments, pants, "
              "trousers, jeans, shorts, underwear, panties, knickers, boxers, briefs, swimwear, sportswear, "
              "outerwear, sleepwear, nightwear, loungewear, activewear, tops, top, covered, covered up, "
              "fully dressed, "
              "ropa, vestido, vestida, camisa, falda, pantalones, vetements, vetement, habille, habillee, "
              "jupe, chemise, kleidung, kleider, klamotten, bekleidet, angezogen, hemd, roupa, roupas, "
              "saia, calcas, vestiti, vestito, vestita, abiti, camicia, pantaloni, odezhda, fuku"),
]  # fmt: skip

CLOTHING_NATIVE: list[tuple[str, str]] = [
    (
        r"(одежд\w*|одет\w*|платье\w*|рубашк\w*|юбк\w*|брюк\w*|服|衣服|着衣|ドレス|シャツ|スカート|水着|下着)",
        "clothing",
    ),
]

MODESTY_TERMS: list[Term] = terms(
    F, "sfw, safe for work, censored, censorship, censor, censor bar, mosaic, modest, modesty, covered, decent, "
       "fully clothed, clothed, dressed, bar censor, pixelated, convenient censoring, steam censor"
)  # fmt: skip

# In a negative prompt these push a picture towards a younger body.
# "man"/"woman"/"old" stay allowed: negatives use them to keep other people or an elderly look out of a picture.
ADULT_TERMS: list[Term] = terms(
    F, "adult, adults, mature, grown up, grownup, grown woman, grown man, of age, over 18, adult body, adult woman, "
       "adult man, mature body, mature woman, mature man, adult face, mature face"
)  # fmt: skip
