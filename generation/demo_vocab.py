"""Words the demo tokenizer knows as whole tokens.

The demo CLIP tokenizer is built in memory from these words so that token counts of typical selfie prompts are in
the same range as the real CLIP BPE (about one token per word). Unknown words fall back to one token per character,
which over-counts: prompt budgets stay on the safe side.
"""

DEMO_WORDS = """
a an the and or of in on at to with without for from by over under near into onto up down out off is are be
photo photograph picture selfie portrait close up closeup face full body shot headshot half upper lower view
woman man girl boy person young adult old middle aged lady guy she he her his their they them it
hair eyes eye skin lips smile smiling laughing serious face freckles beard glasses earrings necklace tattoo
long short curly straight wavy messy braided ponytail bun bangs bob pixie shaved bald
black white red blue green yellow orange purple pink brown grey gray silver gold blonde brunette auburn
dark light pale tan olive warm cool soft bright dim golden hour sunset sunrise night day morning evening
afternoon noon midnight dusk dawn
wearing wears dressed dress shirt t tshirt blouse sweater hoodie jacket coat jeans pants shorts skirt
leggings pajamas pyjamas robe uniform suit tie scarf hat cap beanie boots sneakers heels sandals socks
gym clothes workout sports bra tank top swimsuit bikini raincoat overalls apron cardigan vest kimono
beach sea ocean sand waves pool park garden forest woods mountain mountains lake river city street
cafe coffee shop restaurant bar kitchen bedroom bathroom living room office library school classroom
gym studio museum gallery market mall store train station bus car airport plane hotel flat apartment
home house balcony rooftop roof window bed couch sofa desk mirror stage concert festival club party
campus university hospital church temple bridge harbor pier boat snow rain rainy sunny cloudy foggy
storm stormy windy snowy hot cold weather sky clouds sun moon stars umbrella
reading writing cooking baking eating drinking walking running jogging hiking swimming dancing singing
playing guitar piano sitting standing lying posing waving holding cup book phone camera laptop flowers
dog cat friend friends together alone happy sad tired sleepy excited calm relaxed angry surprised shy
playful confident thoughtful dreamy cozy cute pretty beautiful handsome elegant casual stylish
high quality detailed sharp focus realistic photorealistic natural lighting film grain bokeh depth field
dslr 35mm 50mm 85mm lens cinematic soft studio professional amateur candid instagram phone snapshot
low blurry worst bad anatomy deformed extra fingers hands text watermark logo signature cropped jpeg
artifacts ugly duplicate disfigured mutated nsfw nude
mira kenji noor alex sam
""".split()
