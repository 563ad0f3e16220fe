"""The prompt corpus of the CLIP tokenizer fixture (used by gen_fixtures_tokenizer.py).

build_corpus() returns [(kind, value)]: kind "text" (a str prompt) or "hex" (raw bytes, for
invalid UTF-8; the reference sees bytes.decode('utf-8', 'replace')). Deterministic: the
generated A1111-style prompts come from a seeded random.Random, the mojibake prompts from Python's
codecs (ftfy's sloppy ones included).
"""
import random

SUBJECTS = [
    "1girl", "1boy", "a cat", "an old man", "a knight in shining armor", "a cyberpunk city", "a red fox",
    "a samurai", "portrait of a woman", "a dragon", "a lighthouse at dusk", "an astronaut riding a horse",
    "a cozy cabin in the woods", "a bowl of ramen", "a steampunk airship", "a viking warrior", "an elf archer",
    "a robot", "a mermaid", "a wizard casting a spell", "a ballerina", "a corgi wearing sunglasses",
    "a futuristic sports car", "a medieval castle", "a cute owl", "a witch", "a panda eating bamboo",
    "a mountain landscape", "a street food vendor in Tokyo", "a Victorian mansion", "a lone tree on a hill",
    "an underwater temple", "a space station orbiting Jupiter", "a haunted forest", "a teddy bear",
    "a girl with a pearl earring", "Donald Duck", "Pikachu", "Hatsune Miku", "Geralt of Rivia",
]
DETAILS = [
    "long hair", "short hair", "blue eyes", "green eyes", "smile", "looking at viewer", "upper body",
    "full body", "from above", "dynamic pose", "freckles", "silver hair", "twintails", "red dress",
    "school uniform", "holding a sword", "wearing a hoodie", "wet hair", "glowing eyes", "flowing cape",
    "intricate armor", "detailed face", "sharp focus", "bokeh", "depth of field", "rim lighting",
    "volumetric lighting", "god rays", "golden hour", "neon lights", "rain", "snow", "fog", "night sky",
    "starry sky", "cherry blossoms", "autumn leaves", "sunset", "overcast", "reflections", "lens flare",
    "film grain", "chromatic aberration", "octane render", "unreal engine 5", "ray tracing", "subsurface scattering",
    "hyperrealistic", "photorealistic", "cinematic", "dramatic lighting", "soft lighting", "studio lighting",
    "vibrant colors", "muted colors", "pastel colors", "monochrome", "sepia", "high contrast", "low key",
    "wide angle", "35mm", "85mm f/1.4", "macro", "tilt-shift", "isometric", "symmetrical", "rule of thirds",
]
STYLES = [
    "oil painting", "watercolor", "digital art", "concept art", "anime style", "manga", "pixel art",
    "3d render", "low poly", "vaporwave", "art nouveau", "ukiyo-e", "impressionism", "cubism", "surrealism",
    "pop art", "charcoal sketch", "pencil drawing", "line art", "cel shading", "studio ghibli style",
    "dark fantasy", "cyberpunk", "steampunk", "solarpunk", "synthwave", "baroque", "gothic", "minimalist",
    "photograph", "polaroid", "kodak portra 400", "national geographic photo", "matte painting",
]
ARTISTS = [
    "greg rutkowski", "alphonse mucha", "artgerm", "wlop", "makoto shinkai", "hayao miyazaki", "james jean",
    "ilya kuvshinov", "beeple", "simon stålenhag", "h.r. giger", "zdzisław beksiński", "moebius",
    "katsushika hokusai", "claude monet", "vincent van gogh", "salvador dalí", "rené magritte", "gustav klimt",
    "j.c. leyendecker", "norman rockwell", "frank frazetta", "yoshitaka amano", "kentaro miura", "junji ito",
    "thomas kinkade", "albert bierstadt", "john singer sargent", "ruan jia", "krenz cushart", "sakimichan",
    "loish", "ross tran", "craig mullins", "jakub rozalski", "tsutomu nihei", "mœbius", "joaquín sorolla",
    "antoine blanchard", "édouard manet", "hieronymus bosch", "caspar david friedrich", "m.c. escher",
]
QUALITY = [
    "masterpiece", "best quality", "high quality", "ultra-detailed", "highly detailed", "8k", "4k", "8k uhd",
    "hdr", "uhd", "absurdres", "highres", "award winning", "trending on artstation", "featured on pixiv",
    "intricate details", "sharp", "professional",
]
NEGATIVE = [
    "lowres", "bad anatomy", "bad hands", "text", "error", "missing fingers", "extra digit", "fewer digits",
    "cropped", "worst quality", "low quality", "normal quality", "jpeg artifacts", "signature", "watermark",
    "username", "blurry", "artist name", "deformed", "disfigured", "mutated hands", "poorly drawn face",
    "extra limbs", "ugly", "duplicate", "morbid", "mutilated", "out of frame", "bad proportions",
    "gross proportions", "malformed limbs", "long neck", "cloned face", "(worst quality:1.4)", "(low quality:1.4)",
    "EasyNegative", "bad-hands-5", "ng_deepnegative_v1_75t", "(nsfw:1.2)",
]
LORAS = ["<lora:add_detail:0.8>", "<lora:epiNoiseoffset_v2:1>", "<lora:LowRA:0.6>", "<hypernet:anime_3:0.5>",
         "<lora:more_details:0.5>", "<lyco:GoodHands-beta2:1.0>"]


def weighted(rng, tag):
    r = rng.random()
    if r < 0.12:
        return f"({tag}:{rng.choice(['1.1', '1.2', '1.3', '1.4', '1.5', '0.8', '0.9', '0.5', '2'])})"
    if r < 0.20:
        return f"(({tag}))"
    if r < 0.25:
        return f"[{tag}]"
    if r < 0.28:
        return f"({tag})"
    if r < 0.30:
        return f"[[{tag}]]"
    return tag


def a1111_prompt(rng):
    parts = []
    if rng.random() < 0.6:
        parts += rng.sample(QUALITY, rng.randint(1, 4))
    parts.append(rng.choice(SUBJECTS))
    parts += rng.sample(DETAILS, rng.randint(2, 9))
    if rng.random() < 0.7:
        parts.append(rng.choice(STYLES))
    if rng.random() < 0.6:
        artists = rng.sample(ARTISTS, rng.randint(1, 3))
        parts.append("by " + " and ".join(artists))
    parts = [weighted(rng, p) for p in parts]
    sep = rng.choice([", ", ", ", ", ", ",", " , ", ",  "])
    text = sep.join(parts)
    r = rng.random()
    if r < 0.15:
        text += " " + rng.choice(LORAS)
    elif r < 0.20:
        text = text.replace(", ", " BREAK ", 1)
    elif r < 0.25:
        text += " AND " + rng.choice(SUBJECTS)
    elif r < 0.30:
        a, b = rng.sample(SUBJECTS, 2)
        text += f", [{a}:{b}:{rng.choice(['0.5', '10', '0.25'])}]"
    elif r < 0.33:
        a, b = rng.sample(DETAILS, 2)
        text += f", [{a}|{b}]"
    return text


def negative_prompt(rng):
    return rng.choice([", ", ","]).join(weighted(rng, t) for t in rng.sample(NEGATIVE, rng.randint(4, 18)))


def long_prompt(rng, n_parts):
    parts = []
    while len(parts) < n_parts:
        parts.append(weighted(rng, rng.choice(DETAILS + STYLES + QUALITY + SUBJECTS + ARTISTS)))
    return ", ".join(parts)


HANDWRITTEN = [
    # realistic prompts as people paste them
    "masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile, blue eyes, blonde hair",
    "a photo of an astronaut riding a horse on mars",
    "A beautiful painting of a singular lighthouse, shining its light across a tumultuous sea of blood by greg rutkowski and thomas kinkade, Trending on artstation.",
    "portrait of a young woman, (freckles:1.2), natural skin texture, 85mm, f/1.8, (bokeh:0.7), golden hour, Kodak Portra 400",
    "(masterpiece:1.2), (best quality:1.2), ultra-detailed, illustration, (1girl:1.3), [cat ears], ((white hair)), (red eyes:1.1)",
    "cyberpunk street at night, neon signs in Japanese, rain puddles, reflections, blade runner 2049 vibes --ar 16:9",
    "studio ghibli style landscape, rolling hills, a small red-roofed house, fluffy clouds, summer, by hayao miyazaki",
    "epic fantasy castle on a floating island, waterfalls, dragons flying, sunrise, matte painting, 8k, artstation HQ",
    "close-up portrait of an old fisherman, weathered face, deep wrinkles, intense gaze, black and white, Leica M6, Tri-X 400",
    "cute kawaii chibi fox, big eyes, pastel colors, sticker, white background, vector art",
    "isometric diorama of a tiny coffee shop, low poly, soft lighting, blender, cycles render",
    "a (((very))) detailed [[background]], (subject:1.5) and (another subject:0.5)",
    "photo of a cat, (dslr:1.1), soft light, high quality, film grain, Fujifilm XT3",
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry",
    "(worst quality, low quality:1.4), (monochrome:1.1), EasyNegative, bad-hands-5, (nsfw:1.3)",
    "a painting in the style of Zdzisław Beksiński, dystopian, surreal, rust and bone",
    "Hokusai's The Great Wave off Kanagawa, reimagined as a cyberpunk city",
    "a bustling market in Marrakech, spices, colorful textiles, warm light, street photography",
    "\\(cosplay\\), 1girl, \\(genshin impact\\), raiden shogun, purple hair, kimono",
    "score_9, score_8_up, score_7_up, source_anime, rating_safe, 1girl, solo",
    "[dog:cat:0.5], [red|blue] ball, (grass:0.8) BREAK sky, clouds",
    "a cat AND a dog AND a bird :1.2",
    "RAW photo, subject, 8k uhd, dslr, soft lighting, high quality, film grain, Fujifilm XT3",
    "an illustration of a baby daikon radish in a tutu walking a dog",
    "Teddy bears working on new AI research underwater with 1990s technology",
    "A sea otter with a pearl earring by Johannes Vermeer",
    "photograph of a red apple on a wooden table, 50mm lens, shallow depth of field, natural light",
    "darth vader, star wars, dark side of the force, red lightsaber, dramatic, 1977",
    "Mona Lisa but she's a cyborg, chrome skin, glowing circuitry",
    "the word \"hello\" written in neon letters, on a brick wall",
    "it's a beautiful day, we're going out, they've arrived, I'm here, you'll see, he'd know, don't stop",
    "IT'S LOUD, WE'RE HERE, DON'T PANIC, I'M FINE, YOU'LL SEE, HE'D SAY, THEY'VE GONE",
    "rock'n'roll, 'quoted', ''double'', 's start, o'clock, fo'c'sle, y'all",
    "price: $19.99, 50% off, 3.14159, 1,000,000 views, 2024-01-15, 12:30pm, #hashtag, @user, a+b=c",
    "sd 1.5, v1-5-pruned-emaonly.safetensors, cfg 7.5, 20 steps, 512x512, seed: 1234567890",
    "high-resolution, state-of-the-art, well-known, black-and-white, one-of-a-kind, up-to-date",
    "e-mail: someone@example.com, url: https://example.com/path?q=1&r=2#frag",
    "C++ code, C#, F#, .NET, node.js, python3.11, GPT-4, RTX 4090, H100",
]

UNICODE = [
    # accents and Latin-script languages
    "café, naïve, résumé, jalapeño, façade, Zürich, São Paulo, Kraków, Ørsted, Ærøskøbing",
    "Ein schönes Mädchen mit blauen Augen, Straße, Größe, STRAẞE, ß",
    "une jeune femme élégante, à la française, très détaillé, œuvre d'art, Œdipe",
    "una chica hermosa, ¿qué tal?, ¡increíble!, niño, año, corazón",
    "Phở bò Hà Nội, bánh mì, cà phê sữa đá, Tiếng Việt có dấu",
    "Łódź, Gdańsk, żółć, źdźbło, Żubrówka, Wrocław",
    "İstanbul, ISTANBUL, ıspanak, Diyarbakır, İZMİR, kılıç",
    "Íslenska: þórsmörk, Eyjafjallajökull, Reykjavík, ð and Þ",
    "čeština: příliš žluťoučký kůň úpěl ďábelské ódy",
    "Română: ștefan, țară, Ș, Ț (comma below) and ş, ţ (cedilla)",
    "Dutch ĳs, IJsselmeer, Ĳssel; Afrikaans ŉ; Serbian Ǆ ǅ ǆ Ǉ ǈ ǉ Ǌ ǋ ǌ Ǳ ǲ ǳ",
    # Cyrillic
    "Красивая девушка с длинными волосами, масляная живопись, высокое качество",
    "МОСКВА, Кремль, зимний вечер, снег, ЁЛКА, ёлка, Ђ Љ Њ Ћ Џ, українська мова: ґ є і ї",
    # Greek with final sigma cases
    "Ελληνικά: ΟΔΥΣΣΕΥΣ, Σωκράτης, ΣΟΦΟΣ ΑΝΘΡΩΠΟΣ, ΑΣ, Σ, ΑΣ., ΑΣ'Β, Α΄Σ",
    "ΜΙΚΡΟΣ ΚΟΣΜΟΣ; Ἀθῆναι, ᾅδης, ᾳ, α\u0345, ΆΈΉΊΌΎΏ ϊ ϋ ΐ",
    "ΣΑΣ ΣΑΣ—ΣΑΣ ΣΣ ΣAΣ AΣ.Σ Σ̈ ΑΣ̈ ΑΣ\u0301Β",
    # CJK
    "一个美丽的女孩，长发，蓝色眼睛，微笑，看着观众，高质量，杰作",
    "美しい少女、長い髪、青い目、笑顔、傑作、最高品質、アニメ風、ひらがな、カタカナ",
    "아름다운 소녀, 긴 머리, 파란 눈, 미소, 걸작, 최고 품질, 한국어",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af (decomposed hangul jamo) and 각 한글",
    "中文标点：「引号」『书名』（括号）【方括号】《书名号》、顿号。句号！感叹号？问号",
    "漢字かな混じり文：東京タワーの夜景、富士山と桜、新幹線",
    "葛飾北斎の浮世絵「神奈川沖浪裏」, Katsushika Hokusai, ukiyo-e woodblock print",
    # right-to-left and Indic scripts
    "فتاة جميلة، شعر طويل، عيون زرقاء، لوحة زيتية، جودة عالية",
    "العربية مع التشكيل: مَرْحَبًا بِكُمْ، ١٢٣٤٥٦٧٨٩٠ ، ۱۲۳ فارسی",
    "עברית: ילדה יפה עם שיער ארוך, שָׁלוֹם",
    "एक सुंदर लड़की, लंबे बाल, नीली आँखें, उत्कृष्ट कृति, क़लम, ज़िंदगी",
    "हिन्दी संख्या १२३४५ और संयुक्ताक्षर क्ष त्र ज्ञ श्र",
    "বাংলা: সুন্দর মেয়ে, தமிழ்: அழகான பெண், తెలుగు, ಕನ್ನಡ, മലയാളം, ਪੰਜਾਬੀ, ગુજરાતી",
    "สาวสวยผมยาว ตาสีฟ้า ภาพวาดสีน้ำมัน คุณภาพสูง ภาษาไทย",
    "ລາວ, ខ្មែរ, မြန်မာ, བོད་ཡིག, ᠮᠣᠩᠭᠣᠯ, ქართული ენა, ᲥᲐᲠᲗᲣᲚᲘ, Հայերեն, ՀԱՅԱՍՏԱՆ",
    "Ꭰ Ꭱ Ꭲ ꭰ ꭱ Cherokee, 𐐀𐐁𐐂 Deseret, 𞤀𞤁 Adlam, Ⰰ Glagolitic",
    # NFC/NFD and combining marks
    "cafe\u0301 vs café, A\u030a vs Å vs \u212b (angstrom sign), \u2126 (ohm sign), e\u0301\u0301",
    "a\u0323\u0302 vs a\u0302\u0323 vs ậ, o\u031b\u0303 vs ỡ, Ph\u01a1\u0309 NFD Vie\u0323\u0302t Nam",
    "Zalgo: h̸̡̪̯ͨ͊̽̅̾̎Ȩ̬̩̾͛ͪ̈́̀́͘ ̶̧̨̱̹̭̯ͧ̾ͬC̷̙̲̝͖ͭ̏ͥͮ͟Oͮ͏̮̪̝͍M̲̖͊̒ͪͩͬ̚̚͜Ȇ̴̟̟͙̞ͩ͌͝S̨̥̫͎̭ͯ̿̔̀ͅ",
    "\u0915\u093c (qa, a composition exclusion) \u0958, \u09a1\u09bc, \u0f40\u0fb5, \u2adc, \u1e9b\u0323",
    "combining marks after space: \u0301abc, start\u0308, \u0345 alone, x\u0345y",
    # super/subscripts, fractions, numbers in other scripts
    "x² + y² = z², H₂O, E=mc², ½ ¾ ⅓ ⅞, ①②③, Ⅻ ⅻ Ⅷ, ℃ ℉, №5, ™ ® ©",
    "digits: ٠١٢٣٤٥٦٧٨٩ ०१२३ ๐๑๒ ０１２３ 𝟎𝟏𝟐 ⁰¹²³ ₀₁₂ 〇一二三",
    "math 𝐛𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐 𝓈𝒸𝓇𝒾𝓅𝓉 𝔣𝔯𝔞𝔨𝔱𝔲𝔯 𝕕𝕠𝕦𝕓𝕝𝕖 ℕ ℤ ℝ ∀x∃y: x≠y ∑∏∫√∞ ≤≥",
    "old style ſ: Congreſs, ſtrange, it'ſ, '<|ſtartoftext|>', ﬅ ﬆ",
    "Kelvin K and K, Ångström, ﬀ ﬁ ﬂ ﬃ ﬄ ligatures: ﬁne ﬂower oﬃce baﬄe; Armenian ﬓ ﬔ ﬕ ﬖ ﬗ",
    "Georgian Mtavruli ᲐᲑᲒ lowercases to აბგ; titlecase ǅungla ǈubljana ǋegoš",
    # emoji
    "a happy dog 🐶, sunny day ☀️, ice cream 🍦, love ❤️, fire 🔥🔥🔥, 100 💯",
    "family 👨‍👩‍👧‍👦, couple 👩‍❤️‍👨, technologist 🧑🏽‍💻, rainbow flag 🏳️‍🌈, pirate 🏴‍☠️",
    "skin tones 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿, waving 👋🏾, ok 👌🏼",
    "flags 🇯🇵 🇺🇸 🇫🇷 🇩🇪 🇧🇷 🇺🇦 🇪🇺, Scotland 🏴󠁧󠁢󠁳󠁣󠁴󠁿, Wales 🏴󠁧󠁢󠁷󠁬󠁳󠁿",
    "keycaps 1️⃣ 2️⃣ #️⃣ *️⃣, text vs emoji ☺ ☺️ ♥ ♥️, variation selector\ufe0f alone",
    "🌸🌸🌸 sakura 🌸 ✨✨ sparkles ✨ 🦄🌈 unicorn, 😀😃😄😁😆😅🤣😂🙂🙃",
    "new emoji 🫠 🫶 🪿 🫎 🩷 🫨 🐦‍🔥 🍋‍🟩 (Unicode 14-15.1)",
    "kaomoji (╯°□°）╯︵ ┻━┻ ¯\\_(ツ)_/¯ (◕‿◕✿) ಠ_ಠ ʕ•ᴥ•ʔ (´・ω・`) ヽ(°〇°)ﾉ",
    "box drawing ┌─┐ │ │ └─┘ ═══ ░▒▓█ ●○◆◇■□▲△ ★☆ ♠♣♥♦ ♪♫ ☯☮☢☣",
]

PUNCTUATION = [
    "hello :) :( :D ;) :P <3 xD ^_^ -_- o_O",
    "wow!!! really??? no... yes!!1! ?!?! ‽ ...and then",
    "em—dash, en–dash, hyphen-minus, minus − sign, figure‒dash, horizontal bar ―, ellipsis…",
    "«guillemets» ‹single› „German“ ‚low‘ »reversed« 「corner」 『white corner』",
    "brackets: ((((((((((deep)))))))))) [[[[nested]]]] {{{{curly}}}} <<<<angle>>>>",
    "symbols: @#$%^&*()_+-=[]{}|;':\",./<>?`~ and \\ backslash \\\\ double",
    "currency: $ € £ ¥ ₹ ₽ ₩ ₿ ¢ ₺ ₴ ₪ ฿",
    "arrows → ← ↑ ↓ ↔ ⇒ ⇔ ➜ ➡️ and bullets • ◦ ‣ ⁃ · ･",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    ",,,,,,,,,,,,,,,, ............ ________ -------- ======== ########",
    ":)), (:, ):, ,), (,",
    "'''''' '' ' 's 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D 'x 'ss",
]

QUOTES_WIDTH = [
    "curly ‘single’ and “double” quotes, it’s, don’t, we’re, l’amour, ‛reversed‟, ʼmodifier apostrophe",
    "“The Starry Night” by Vincent van Gogh, ‘swirling sky’, primes ′ ″ ‴, ‵backticks‶",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ　ｗｉｔｈ　ｉｄｅｏｇｒａｐｈｉｃ　ｓｐａｃｅｓ，１２３４５！？",
    "ｶﾀｶﾅ halfwidth katakana ﾃｽﾄ ｱｲｳｴｵ ﾊﾟﾋﾟ ｶﾞｷﾞ and halfwidth hangul ﾡﾢﾣ ￦ ￥ ￣ ￤ ￨￩￪",
    "fullwidth brackets （括弧） ［角］ ｛波｝ ＜山＞ ＂quote＂ ＇apos＇ ｀grave｀ ～tilde",
    "＜｜endoftext｜＞ fullwidth special, ＜|startoftext|＞",
]

HTML = [
    "Tom &amp; Jerry, salt &amp; pepper, R&amp;D, AT&amp;T",
    "fish &amp; chips <3 (has a less-than sign)",
    "&lt;lora:detail:1&gt; written as entities",
    "&quot;quoted&quot; &#39;single&#39; &#x27;hex&#x27; &apos;apos&apos;",
    "caf&eacute; na&iuml;ve &Eacute;COLE &EACUTE;COLE &ntilde; &Ntilde; &NTILDE; &nTILDE; STRA&SZLIG;E",
    "&hellip; &mdash; &ndash; &nbsp;non-breaking&nbsp;space &copy; 2024 &reg; &trade; &deg;C",
    "&#128512; &#x1F600; &#x1f63a; emoji as numeric entities",
    "&amp;amp; double-escaped, &amp;lt;tag&amp;gt;, &amp;amp;amp; triple",
    "bogus &notanentity; &#; &#x; &#xZZ; &#12ab; &abc &amp without semicolon, &AMP; &Amp;",
    "edge numerics: &#0; &#13; &#128; &#150; &#129; &#xD800; &#1114112; &#x110000; &#11; &#x7f; &#59; &#65279;",
    "&aaaaaaaaaaaaaaaaaaaaaaaaa; (25 letters) &aaaaaaaaaaaaaaaaaaaaaaaa; (24) &#0000000000000000000000065;",
    "line one &amp; fine\nline two has a < sign &amp;\nline three &amp; too",
    "line one has a < sign\nline two &amp; stays",
    "&lt;|endoftext|&gt; and &lt;|startoftext|&gt; as entities",
    "&Jscr;ohn &HilbertSpace;ancock &checkmark; &NotNestedGreaterGreater; &fjlig;",
    "a &amp\u037e b (Greek question mark becomes ';' after NFC)",
]

CONTROL = [
    "null\x00byte, bell\x07, backspace\x08, escape\x1b alone, delete\x7f",
    "ansi \x1b[31mred\x1b[0m text \x1b[1;32;40mbold\x1b[m, \x1b[2J\x1b[H clear, \x1b[٣m arabic digit",
    "C1 controls: \x80euro \x85nel \x91quote\x92 \x93double\x94 \x96dash\x97 \x81\x8d\x8f\x90\x9d undefined \x9f",
    "BOM\ufeffinside, \ufeffat start; zero width\u200bspace, zwnj\u200cand zwj\u200d, word\u2060joiner",
    "deprecated format \u206a\u206b\u206c\u206d\u206e\u206f, annotation \ufff9a\ufffab\ufffbc, obj\ufffc",
    "soft\u00adhyphen, left-to-right\u200emark, rtl\u200fmark, embed\u202aing\u202c, isolate\u2066x\u2069",
    "vertical\x0btab, form\x0cfeed, file\x1csep, group\x1dsep, record\x1esep, unit\x1fsep",
    "tag characters: a\U000e0041\U000e0042b, variation selectors: x\ufe00y\U000e0100z",
    "private use \ue000\uf8ff\U000f0000, noncharacters \ufdd0\ufffe\uffff, replacement \ufffd",
    "music \U0001d173\U0001d174 controls, Mongolian \u180e vowel separator, \u115f\u1160 hangul fillers",
    "\x01\x02\x03\x04\x05\x06 leading and trailing controls \x0e\x0f\x10\x11",
]

WHITESPACE = [
    "",
    " ",
    "   \t\n  \r\n  ",
    "\u3000\u00a0\u2003\u2028\u2029\x85",
    "tabs\tbetween\t\twords and\nnewlines\n\nand\r\ncrlf\rand cr",
    "  leading and trailing spaces  ",
    "nbsp\u00a0between, en\u2002space, em\u2003space, thin\u2009space, hair\u200aspace, narrow\u202fnbsp, math\u205fspace",
    "ogham\u1680space, ideographic\u3000space, line\u2028sep, para\u2029sep, nel\x85char",
    "\n\n\nmultiple\n\n\nblank\n\n\nlines\n\n\n",
    "word" + " " * 200 + "word",
]

SPECIAL = [
    "<|endoftext|>",
    "<|startoftext|>",
    "a photo of a cat<|endoftext|>a photo of a dog",
    "<|startoftext|>a photo<|endoftext|>",
    "<|endoftext|><|endoftext|><|startoftext|>",
    "before <|endoftext|> after",
    "<|ENDOFTEXT|> <|EndOfText|> <|StartOfText|>",
    "<|endof<|endoftext|>text|>",
    "!!<|endoftext|>!! and (<|endoftext|>) and <<|endoftext|>>",
    "<|endoftext|> fish &amp; chips < 3",
    "fish &amp; chips < 3 <|endoftext|> salt &amp; pepper",
    "<|endoftext| > <| endoftext|> <endoftext> <|eot|> <|im_start|>",
    "<start_of_text> <end_of_text> (open_clip spellings are plain text here)",
    "'<|endoftext|>' \"<|startoftext|>\"",
]

MOJIBAKE = [
    # typical UTF-8-read-as-Windows-1252 mojibake that people paste; ftfy repairs it
    "cafÃ©, naÃ¯ve, PokÃ©mon, dÃ©jÃ  vu",
    "donâ€™t stop, itâ€™s fine, â€œquotedâ€\x9d",
    "Ã¢â‚¬â„¢ doubly encoded apostrophe",
    "âœ” No problems, â˜… star",
    "Ð\x9fÑ€Ð¸Ð²ÐµÑ‚ Ð¼Ð¸Ñ€",
]


def _moji(text, *codecs, nbsp_to_space=False):
    """text as UTF-8, read back through each codec in turn (each round re-encodes as UTF-8).

    The sloppy-* codecs are ftfy's (they keep the bytes Windows leaves undefined, as browsers do);
    plain windows-125x with errors='replace' loses them to U+FFFD."""
    import ftfy.bad_codecs  # noqa: F401  (registers the sloppy codecs)

    for codec in codecs:
        data = text.encode("utf-8")
        if nbsp_to_space:
            data = data.replace(b"\xa0", b" ")
        text = data.decode(codec, "replace")
    return text


def mojibake_prompts():
    """Mojibake made the way it happens (mostly UTF-8 read as a Western single-byte codec), in
    prompt-like context, plus text that looks odd but ftfy must leave alone."""
    w1252, l1 = "sloppy-windows-1252", "latin-1"
    return [
        # single round through Windows-1252 / Latin-1
        _moji("portrait of Beyoncé, café terrace at night, by Joaquín Sorolla", w1252),
        _moji("Zürich old town, Ørsted, Ærøskøbing, São Paulo skyline, masterpiece", w1252),
        _moji("1girl, “smiling”, it’s raining — cinematic lighting…", w1252),
        _moji("crème brûlée, piña colada, jalapeño, smörgåsbord, food photography", l1),
        _moji("Schöne Straße in München, Größe 8k, très détaillé", l1),
        _moji("a knight • glowing sword ★ trending on artstation ™ © 2024", w1252),
        _moji("temperature 25°C, 50% off, ½ price, 3×3 grid, ±5", w1252),
        # twice (mojibake of mojibake), and three times
        _moji("Pokémon trainer, déjà vu, naïve art style", w1252, w1252),
        _moji("it’s a “masterpiece”, best quality", w1252, w1252),
        _moji("Ærøskøbing harbour, hygge", l1, w1252),
        _moji("café", w1252, w1252, w1252) + " au lait, morning light",
        # other scripts read as Windows-1252 or Latin-1
        _moji("Красивая девушка, масляная живопись, высокое качество", w1252),
        _moji("Ελληνικά: ΟΔΥΣΣΕΥΣ, Σωκράτης, θάλασσα", w1252),
        _moji("美しい少女、長い髪、青い目、傑作", w1252),
        _moji("一个美丽的女孩，长发，高质量", l1),
        _moji("아름다운 소녀, 긴 머리, 걸작", w1252),
        _moji("a happy dog 🐶, fire 🔥, sparkles ✨, 100 💯", w1252),
        _moji("family 👨‍👩‍👧‍👦 and thumbs up 👍🏽", l1),
        _moji("Łódź, Gdańsk, żółć, Kraków", w1252),
        _moji("İstanbul, Diyarbakır, kılıç", w1252),
        # other single-byte codecs: UTF-8 read as Windows-1251 / 1250 / MacRoman / cp437
        _moji("café, naïve, “quoted”", "sloppy-windows-1251"),
        _moji("Ärger über Öl, Straße", "sloppy-windows-1250"),
        _moji("résumé, jalapeño — done", "macroman"),
        _moji("naïve café", "cp437"),
        # partial mojibake next to correct accents (decode_inconsistent_utf8)
        "résumé and " + _moji("résumé", w1252) + " side by side, café",
        "Zürich " + _moji("Zürich", w1252) + " Zürich, “" + _moji("quoted", w1252) + "”",
        "naïve " + _moji("it’s", w1252) + " fine, déjà vu",
        "Привет " + _moji("Привет", w1252) + " мир",
        # U+00A0 that became a plain space ("Ã " for "à"), and the Portuguese words left alone
        _moji("voilà le travail, à la carte", w1252, nbsp_to_space=True),
        _moji("às vezes, àquele dia, à noite", w1252, nbsp_to_space=True),
        _moji("déjà vu, à bientôt", l1, nbsp_to_space=True),
        # bytes lost to U+FFFD by a non-sloppy decoder (replace_lossy_sequences)
        _moji("“quoted” and ‘single’", "windows-1252"),
        _moji("a “lossy” dash — here", "windows-1252"),
        # C1 control characters (Latin-1 read where Windows-1252 was meant)
        "\x93smart quotes\x94 and \x91single\x92, \x96 dash \x85 ellipsis \x80 euro",
        "C1 with undefined bytes \x81 \x8d \x8f \x90 \x9d and \x99 trademark",
        _moji("it’s “done” — really", l1),
        # "Ã " that was meant as "Ã": ftfy's rule still fires (so loom's must too)
        "Ã  la carte written by hand? no: ÃÂ, Ð and Ñ as letters: Ñandú, Ðuro",
        "Ã is a letter in Portuguese: MÃE, NÃO, IRMÃ",
        # looks unusual but is fine: ftfy must keep it as written
        "Ñoño, Ðakovo, ÂÊÎÔÛ vowels with circumflex, ÀÁÂÃÄÅ àáâãäå",
        "I ♥ NY, Ω resistor, µs timing, Σ sum, ¼ inch, TÜV Süd, Sø og Ålesund",
        "Beyoncé, naïve, Æsir, þorn, Øresund — ordinary Latin-1 text",
        "¿Qué? ¡Sí! «guillemets» 10€, 5£, ©®™ °C ±",
        "math ≤ ≥ ≠ ∞ √2 ∑ ∫ ∂ ≈ µ, box ═╗ ░▒▓",
        "kaomoji (╯°□°）╯︵ ┻━┻ ¯\\_(ツ)_/¯ ┌∩┐(◣_◢)┌∩┐",
        "Ελληνικά and Русский and 日本語 mixed, no mojibake here",
    ]

INVALID_UTF8_HEX = [
    b"caf\xc3".hex(),
    b"\xff\xfe bad lead bytes \x80\xbf".hex(),
    b"surrogate \xed\xa0\x80\xed\xb0\x80 encoded".hex(),
    b"overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf".hex(),
    b"truncated emoji \xf0\x9f\x98 here".hex(),
    b"beyond max \xf4\x90\x80\x80 and \xf5\x80".hex(),
    b"modified utf-8 nul \xc0\x80 end".hex(),
    b"valid \xe2\x9c\x94 then \xe2\x9c invalid".hex(),
]


def build_corpus():
    rng = random.Random(20240115)
    texts = list(HANDWRITTEN)
    texts += [a1111_prompt(rng) for _ in range(380)]
    texts += [negative_prompt(rng) for _ in range(60)]
    texts += UNICODE + PUNCTUATION + QUOTES_WIDTH + HTML + CONTROL + WHITESPACE + SPECIAL + MOJIBAKE
    texts += mojibake_prompts()
    # mixed-case variants of realistic prompts
    texts += [a1111_prompt(rng).upper() for _ in range(10)]
    texts += [a1111_prompt(rng).title() for _ in range(10)]
    # very long prompts (well over 1000 tokens) and long single pre-tokens
    texts += [long_prompt(rng, 420), long_prompt(rng, 600)]
    texts.append(", ".join(a1111_prompt(rng) for _ in range(30)))
    texts.append("".join(UNICODE[16:19]) * 8)  # long CJK runs: one letter run of hundreds of characters
    texts.append("supercalifragilisticexpialidocious" * 40)
    texts.append("!?" * 700)
    texts.append("9" * 1200)
    texts.append("🔥" * 300 + "👨‍👩‍👧‍👦" * 50)
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(("text", t))
    out += [("hex", h) for h in INVALID_UTF8_HEX]
    return out
