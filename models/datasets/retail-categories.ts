/**
 * Categories for the UCI Online Retail stock codes, derived from their descriptions by a keyword
 * table (docs/analytics.md#categories-of-online-retail): the description is upper-cased and the
 * FIRST row of {@link CATEGORY_KEYWORDS} with a word (or phrase) in it names the category; none
 * gives `other`. The order settles overlaps: "TEA LIGHT" is a candle before it is tea, "LUNCH
 * BAG" is lunch before it is a bag, "CHRISTMAS" wins over what the thing is. The table is plain
 * data, so the derivation is reproducible and a change to it shows in a diff.
 *
 * Stock codes that are not goods (postage, fees, manual adjustments, samples) are not basket
 * lines: {@link isGoods} tells them apart.
 */

/** [category, words separated by `|`]: a word or phrase matches at word boundaries. */
const CATEGORY_KEYWORDS: readonly (readonly [string, string])[] = [
  ['christmas', 'CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|NATIVITY|BAUBLE|SNOWFLAKE|SLEIGH'],
  ['easter', 'EASTER|BUNNY|CHICK|HEN'],
  ['lunch', 'LUNCH|SNACK|PICNIC'],
  ['warmers', 'HOT WATER BOTTLE|HAND WARMER|WARMER'],
  [
    'candles & lights',
    'T-LIGHT|T-LIGHTS|TEA LIGHT|TEALIGHT|CANDLE|CANDLES|CANDLEHOLDER|CHOCOLATECANDLE|LANTERN|LIGHTS|LIGHT|LAMP|NIGHTLIGHT|MATCHES',
  ],
  ['party', 'PARTY|BUNTING|BALLOON|BALLOONS|BIRTHDAY|CONFETTI|STRAWS|GARLAND|PAPER CHAIN|FLAGS'],
  ['children', "CHILDRENS|CHILDREN'S|CHILDS|BABY|KIDS|NURSERY"],
  [
    'toys & games',
    'TOY|TOYS|GAME|GAMES|DOLLY|DOLL|PUZZLE|JIGSAW|SKIPPING|PLAYHOUSE|TEDDY|CRAYONS|COLOURING|DOMINOES|SOLDIER|SPINNING|MARBLES|BINGO|LUDO|NAUGHTS|SNAKES|CLAY|ROCKING HORSE|GLIDERS|DRAWING SLATE',
  ],
  ['crafts & sewing', 'FELTCRAFT|SEWING|KNITTING|BUTTONS|CRAFT|EMBROIDERY|SCISSOR|PAINT|STENCIL'],
  ['gift wrap', 'WRAP|WRAPPING|RIBBON|RIBBONS|GIFT TAPE|TISSUE PAPER|GIFT BAG|TAG|TAGS'],
  [
    'stationery',
    'CARD|CARDS|PENCIL|PENCILS|PEN|PENS|NOTEBOOK|NOTEBOOKS|NOTE|NOTEPAD|STICKER|STICKERS|ERASER|ERASERS|RULER|ENVELOPE|ENVELOPES|TAPE|CHALK|JOURNAL|DIARY|BOOK|BOOKS|SKETCHBOOK|CALENDAR|POSTCARD|STATIONERY|SHARPENER|STAMP|WRITING SET',
  ],
  ['bags', 'BAG|BAGS|SHOPPER|TOTE|PURSE|WALLET|BACKPACK'],
  [
    'jewellery & accessories',
    'NECKLACE|BRACELET|EARRINGS|RING|HAIR|CLIP|CLIPS|SLIDE|BANGLE|BROOCH|CHARM|JEWELLERY|KEYRING|KEY RING|KEY FOB|UMBRELLA|PARASOL|PONCHO|SCARF|GLOVES|BEADS|DIAMANTE|FAN',
  ],
  [
    'bathroom & beauty',
    'BATH|SOAP|SPONGE|TOILET|PLASTERS|TISSUES|MAKE UP|COSMETIC|NAIL|LIP|PERFUME|WASHBAG|TOOTHBRUSH',
  ],
  [
    'baking',
    'CAKE|CAKES|CUPCAKE|BAKING|MUFFIN|BISCUIT|CAKESTAND|CAKE STAND|PASTRY|COOKIE|ICING|JELLY MOULD|MOULD',
  ],
  ['tea & coffee', 'TEA|TEAPOT|COFFEE|MUG|MUGS|CUP|CUPS|SAUCER|TEACUP|ESPRESSO|MILK JUG|SUGAR'],
  [
    'tableware',
    'PLATE|PLATES|BOWL|BOWLS|CUTLERY|SPOON|SPOONS|FORK|KNIFE|NAPKIN|NAPKINS|COASTER|COASTERS|PLACEMAT|PLACEMATS|DOILY|DOILIES|GLASS|GLASSES|TUMBLER|BEAKER|TRAY|JUG|DISH|CHOPSTICKS|TABLECLOTH|STRAW',
  ],
  [
    'kitchen & storage',
    'KITCHEN|JAR|JARS|JAM|TIN|TINS|CONTAINER|APRON|OVEN|TOWEL|TOWELS|SCALES|PANTRY|BOTTLE|LADLE|CHOPPING|FRIDGE|MAGNET|MAGNETS|FLASK|BREAD|EGG|SALT|PEPPER|HOLDER|RACK|PIGGY BANK',
  ],
  [
    'boxes & baskets',
    'BOX|BOXES|BASKET|BASKETS|DRAWER|DRAWERS|CASE|CASES|TRUNK|CHEST|HAMPER|WICKER|STORAGE|TRINKET|CRATE|CRATES|CABINET',
  ],
  [
    'garden',
    'GARDEN|PLANT|PLANTER|POT|POTS|WATERING|BIRD HOUSE|BIRDHOUSE|FEEDER|SEED|SEEDS|HERB|TRELLIS|GNOME|WINDMILL|KNEELING PAD',
  ],
  ['clocks', 'CLOCK|ALARM'],
  ['frames & mirrors', 'FRAME|PHOTO|ALBUM|MIRROR|PICTURE'],
  [
    'signs & plaques',
    'SIGN|PLAQUE|BLACKBOARD|BLACK BOARD|CHALKBOARD|MEMO BOARD|MEMOBOARD|NUMBER|LETTER|LETTERS|BUILDING BLOCK WORD',
  ],
  [
    'cushions & textiles',
    'CUSHION|THROW|BLANKET|QUILT|DOORMAT|MAT|CURTAIN|FABRIC|HANDKERCHIEF|SLIPPERS|FILLER PAD|HAMMOCK|FOOT STOOL',
  ],
  [
    'hooks & hardware',
    'HOOK|HOOKS|KNOB|KNOBS|DRAWERKNOB|HANGER|HANGERS|PEG|PEGS|DOORSTOP|DOOR STOP|SCREWDRIVER|BELL|BELLS',
  ],
  [
    'decorations',
    'DECORATION|DECORATIONS|ORNAMENT|HANGING|WREATH|HEART|HEARTS|STAR|BIRD|BIRDS|BUTTERFLY|CHIME|CHIMES|MOBILE|VASE|FLOWER|FLOWERS|ROSE|FEATHER|PEARS',
  ],
];

const OTHER_CATEGORY = 'other';

const MATCHERS = CATEGORY_KEYWORDS.map(
  ([category, words]) =>
    [
      category,
      new RegExp(`(?:^|[^A-Z0-9'-])(?:${words.replace(/[.*+?^${}()[\]\\]/g, '\\$&')})(?=$|[^A-Z0-9'-])`),
    ] as const,
);

/** The category of a description (`other` when no row of the table matches). */
export function categoryOf(description: string): string {
  const text = description.toUpperCase();
  for (const [category, re] of MATCHERS) if (re.test(text)) return category;
  return OTHER_CATEGORY;
}

/** Stock codes that are not goods: postage, carriage, fees, manual entries, discounts, samples. */
const NOT_GOODS = /^(?:POST|DOT|C2|D|M|m|S|B|CRUK|PADS|BANK CHARGES|AMAZONFEE|gift_.*)$/;

export function isGoods(stockCode: string): boolean {
  return !NOT_GOODS.test(stockCode.trim());
}
