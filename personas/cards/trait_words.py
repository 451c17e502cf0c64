"""The word classes the appearance rules in `traits.py` work with: head nouns per trait, describing words that
stand alone (build, skin), words that mark a section, a verb or a sentence boundary. Closed classes of English,
not phrases from any card."""

from __future__ import annotations

# Head nouns by trait. "Needs a modifier": the noun alone says nothing ("her eyes") and is dropped.
HAIR = {"hair", "locks", "mane", "curls"}
HAIRSTYLES = {
    "bun", "braid", "braids", "ponytail", "ponytails", "pigtails", "twintails", "bangs", "fringe", "bob",
    "chignon", "dreadlocks", "dreads", "cornrows", "undercut", "mohawk", "afro", "updo", "buzzcut", "mullet",
    ("pixie", "cut"), ("buzz", "cut"), ("shaved", "head"), ("bald", "head"),
}  # fmt: skip
EYES = {"eyes", "eye"}
SKIN = {"skin", "complexion", "tan", ("skin", "tone")}
FACE = {"face", "nose", "lips", "jaw", "jawline", "cheekbones", "chin", "ears", "brows", "eyebrows", "teeth"}
BODY = {"build", "figure", "frame", "physique", "body", "stature", "shoulders", "arms", "legs"}
MARKS = {
    "freckles", "dimples", "scar", "scars", "tattoo", "tattoos", "mole", "birthmark", "stubble", "beard",
    "mustache", "moustache", "goatee", "sideburns", "piercing", "piercings", "makeup", "eyeliner", "lipstick",
    "tusks", "horns", "wings", "tail", "fangs", "whiskers", "antlers", "halo", "ribbon", "hairpin", "glasses",
    ("nose", "ring"), ("nose", "stud"), ("lip", "ring"), ("beauty", "mark"), ("tattoo", "sleeve"),
}  # fmt: skip
NEEDS_MODIFIER = {"hair", "eyes", "skin", "face", "body"}
EXTRA_GARMENTS = {
    "outfit", "armor", "armour", "cloak", "cape", "robe", "robes", "vest", "pants", "trousers", "bodysuit",
    "uniform", "tracksuit", "tracksuits", "tunic", "garb", "attire", "clothes", "clothing", "shoes", "apron",
    "corset", "stockings", "cardigans", "hoodies", "sweaters", "shirts", "skirts", "dresses", "gowns",
}  # fmt: skip
SUBJECTS = {
    "woman": "female", "girl": "female", "lady": "female", "female": "female", "man": "male", "boy": "male",
    "guy": "male", "gentleman": "male", "male": "male",
}  # fmt: skip
PRONOUNS = {
    "she": "female", "her": "female", "hers": "female", "herself": "female",
    "he": "male", "him": "male", "his": "male", "himself": "male",
}  # fmt: skip
BUILD = {
    "tall", "short", "petite", "slender", "slim", "thin", "skinny", "lean", "lanky", "muscular", "athletic", "toned",
    "curvy", "voluptuous", "stocky", "burly", "chubby", "plump", "heavyset", "broad-shouldered", "willowy", "wiry",
    "towering", "frail", "hulking", "brawny", "svelte",
}  # fmt: skip
SKIN_WORDS = {"pale", "tanned", "freckled", "sun-kissed", "sunburnt", "dusky", "swarthy", "ashen"}
SPECIES = {
    "elf", "elven", "orc", "dwarf", "vampire", "demon", "angel", "android", "robot", "cyborg", "werewolf", "fairy",
    "mermaid", "kitsune", "catgirl", "succubus", "goblin", "dragon", "centaur", "ghost", "undead", "zombie",
    "half-elf", "tiefling", "nymph", "dryad", "witch",
}  # fmt: skip
MINOR_WORDS = {
    "teen", "teens", "teenager", "teenage", "schoolgirl", "schoolboy", "child", "kid", "loli", "shota", "underage",
    "minor", "preteen", "toddler", "tween",
}  # fmt: skip
FUNCTION_WORDS = set(
    """a an the her his their its my your our she he they it i you we me him them is are was were be been being
    am has have had having with without and or but of in on at to from by for into over under behind past across
    through that which who whom whose when while where as than like this these those there here not no nothing
    so too also always usually often sometimes never typically normally mostly rarely still just only even
    currently now then one's own some any all each every both either neither upon about around between along
    wears wearing wore wear dressed dresses dress keeps kept looks look looking seems seem appears appear
    stands stand moves move falls fall reaches reach lives live gets got makes made goes went loves likes hates
    dislikes enjoys prefers wants needs does do did can could will would should may might must tied pulled
    hidden covered usually if because although though despite since until despite what how why whether""".split()
)
# A segment with one of these talks about things the character does not wear ("she hates dresses").
NOT_WORN_VERBS = {
    "likes", "like", "loves", "love", "hates", "hate", "dislikes", "dislike", "enjoys", "sells", "collects",
    "designs", "sews", "makes", "buys", "wants", "prefers", "dreams", "wishes", "fan",
}  # fmt: skip
WEAR_VERBS = {"wears", "wear", "wearing", "wore", "dressed", "dresses", "clad", "sports", "dons"}
COPULAS = {"is", "are", "was", "were", "looks", "look", "seems", "seem"}
PREPOSITIONS = {"with", "in", "into", "behind", "by", "at", "on", "from", "over", "under", "to", "across", "past"}
BOUNDARY = {",", "and", "but", "with", "from", "or", "in", "who", "that", "which", "."}
LOOK_KEYS = {"appearance", "looks", "physical", "visual", "physique"}
# Section keys ("Personality: ...") whose value says nothing about looks.
SKIP_KEYS = {
    "personality", "likes", "dislikes", "loves", "hates", "hobbies", "hobby", "backstory", "history", "occupation",
    "job", "profession", "goals", "goal", "fears", "speech", "quirks", "secrets", "relationships", "relationship",
    "scenario", "motto", "habits", "mind", "mannerisms", "skills", "abilities", "background", "name", "nickname",
    "traits", "weaknesses", "strengths", "family", "summary", "tags",
}  # fmt: skip
