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
abc accessories activewear activities activity ada aeroplane after afterparty airbnb airplane airpods all alley
allotment americano amusement animal anime ankle annotations annoyed answering answers anxious appearance append
aquarium arcade arena arm around art assignment astronomy atelier athleisure athletic back backpack backpacking
backseat backyard baggy bakery ballpark band barber barbershop base baseball basketball bath bathing bathrobe
bathtub bazaar beaches beachfront bear bedtime beer beige best bestie bicycle big bike biking binge bingeing binging
birthday bistro bite blanket blankets blazer blizzard block blowing blushing blustery board boarding boardwalk boba
bodyboarding boiler boiling bomber books bookshop bookstore bored boring botanic botanical bouldering boundary
bouquet boutique bowling box boxers boyfriend boys brasserie bread break breakfast breaks breezy brew brewery bridal
brolly browsing brr brrr brunch brunching brush bubble bucket bucketing budget build builtprompt bummed burgundy
business button cab cabin caf cake call callable cami camisole camo campfire campground camping campsite can canal
candles canoe canvas canyon cappuccino captions cardi cardigans cardio carnival cartoon cashmere castle catching
category cathedral cats celebrating center chalet champagne chapel characters chat check checkered cheeky cheerful
chef cheongsam chill chilling chilly chocolate choker chopping chores chunky cinema class clean cleaning clear cliff
climbing climbs clinic clip clubbing cocktail cocktails cocoa coding coffeeshop collections college combat come
comfy comma commuting compile computer concentrating condo cone conference content control convenience cookies cooks
coral corduroy corner cosplay costco costume cotton count countryside counttokens court covers cowboy coworking
cramming cream crewneck crib crocheting crop crossfit crosswalk cruise crying cubicle cuddling cupcakes curled cut
cutoffs cycling dad dance dataclass dataclasses daybreak days dead deck decorating def default del delighted den
denim dentist department departure describe desert dict diffusion dimples diner dinner dip disco dishes disney
disneyland dock doctor doggo dogs doing doodling dorm dot downpour downtown dozing drained drawing drenched dressing
drink drinks driver driving drizzle drizzling drop dropped dry dunes dungarees duvet dye dying earbuds earlier early
easy eatery else emails embarrassed emergency emoji encoder entry escape espresso estimate exercising exhausted
exhibit exhibition explicit exploring expression eyebrow factory fair falling false family fancy farm farmer farmers
faux fedora feeling ferry fetch fever first fishing fit fitness fits fixed flannel flea fleece flight flip flirty
floor flops floral flu fluffy flurries focused fog folding food football formal framing freezing frock fromkeys
front frosty frozen funfair fur furious furry future fuzzy game games gaming gang gardening gas gate gear gelato get
getting gig girlfriend girls glad glass gloomy gloves glowing going good goodnight gorgeous got gown grabbing grad
grainy grandma grandmas grandparents graphic great greenhouse groceries grocery grumpy gusty hairdresser hall
halloween hanbok harbour have having hazy headband headphones heartbroken heat heatwave highs highway hike hills
homework hooded hoody hoops hostel human humid humoured hyped ice iced icy identity ill illustrating illustration
illustrator imax import important inn int invisible irritated item items izakaya jammies jean joggers join journal
journaling joyful jumper jumpsuit jungle just karaoke karaoking kayak khaki kicks kind kitchenette kitten kitty
knackered knit knitted knitting konbini lab laboratory lace lakeshore lakeside laps late latte laundromat laundry
lavender lazing least leather lecture left leg len length leopard letter lido lifting lightning lilac limit line
linen lingerie list little live llm load location locations lodge loft log loose lora lots lounge lounging loves
lowercase lowres lunch lunchtime lyft macbook mad made makeup making many margarita marina maroon marshmallows
matcha matters max maxi may meadow meal meditating meeting melting memory mesh meteor metro midday mini miniskirt
mint mist misty mittens mode models mojito mom mood moods more mornin mosque most motel mother mountaintop movie
movies muggy multiple mum music myself nail name nap napping navy negative neon nervous netflix never nfkc nice
nightclub nightgown nightie nighttime nippy none normalize nose not notebook notes nothing novel one onesie only
orchard order osaka outfit outfits outlet overcast overcoat oversized overwhelmed owns paddle paddleboarding
paintbrush painting pajama palace palette panties paperback paperwork parents parka part partner parts partying
pasta pastel patio patisserie patterned peace peaceful peach peacoat peak pencil pendant people per perfect persona
personality personas petrol petting pharmacy photographing photography photos phrase phrases picnic picnicking
pictures piece pilates pint pipeline pissed pitch pitching pizza pizzeria pjs place plaid planting plants platform
playground playstation pleated plushie poetry polaroid polka polo poncho pond poolside pop popcorn porch pouring
practicing prepping programming promenade prompt props prosecco proud pub puffer puffy pullover pumped pumps pup
pupper puppy putting qipao queueing queuing quotes raindrops rainforest raining ramen ranch range rave raving rays
ready reception recording relaxing render resort resting retro return revising ride riding ripped riverbank
riverside road roasting rock romper ros roses round rows rsplit rubber rucksack ruins run safari safe sailboat salon
sandy sanitize sanitized saree sari satin scale scar scene scenestate scorching scrubs scrunchie seashore seaside
seat seed sees sent sentences separated sequin sequined set sewing sfw shacket shades shares shawl sheer shinkansen
ship shocked shoes shooting shopping shops shore shoulder show shower showering showers shrine sick sidewalk
sightseeing silk singlet sipping sis sister skateboard skating sketchbook sketching ski skies skiing skinny sledding
sleep sleeping sleepwear sleet sleeveless slice slides slip slippers slope slopes slouchy small smartphone snacking
snapback snorkeling snorkelling snowboarding snowfall snowing snowstorm snowsuit soaking some sous spa space
speakeasy specs spectacles spinning spitting splashing split sport sportswear sporty sprinting spritz squad squats
stacks stadium starbucks start startswith stays steakhouse stilettos stirring stoked stop stove str straightening
strangers strapless straw streaming stressed stretching strip striped strolling strumming stubble stuck stud student
study studying stuffed style sub subway suede summer summery summit sunbathing sundown sundress sunflowers
sunglasses sunnies sunshine supermarket surf surfboard surfing sushi sweat sweating sweatpants sweats sweatshirt
sweaty sweet sweltering swim swimwear switch tail taking tanning target tavern taxi tea teahouse teal teddy tee
tennis tent terminal terms terrace texts theater theatre theme then thesis thigh thirties this three thrilled
through throw thunder thundering thunderstorm tidying tight tights time times toasting token tokens tones tonight
too toque touring towel track trackies trackpants traffic trail trailing trainers training tram traveling travelling
treadmill trekking trench trenchcoat trigger trip true trunks trying tub tube turning turquoise turtleneck tux
tuxedo twenties twilight two uber ufeff uggs uke ukulele undercut underground underwear uni unicodedata until
unwinding update upset vacuuming value values varied vegetables velvet venue veranda vibing video vineyard vintage
vocabulary wait waiting waking walk walmart wandering washing watching water waterfront watering wave way wedding
weeding weigh weight weighting weights wellies wellingtons wet wetsuit when while whites who width wind windbreaker
windswept wine winter wiped within woke woodland wool woolen woollen woolly word words work working workplace
workshop workstation worn worried wrapped xbox yacht yard yoga yukata zero zone zoo
""".split()
