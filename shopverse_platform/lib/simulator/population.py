"""The simulated shop's world: what it sells, who visits it, and on which devices.

Part of the traffic simulator (``lib/simulator``, whose ``simulate`` is the entry point).  This
module holds the static tables the rest of the simulator draws from -- the catalogue's products
and prices, countries and their UTC offsets, age groups, traffic sources -- and
``_PopulationMixin``, the part of a run that turns the seed into a priced catalogue and a
population of visitors with latent traits (registration, visit rate, propensity to buy, churn)
and their devices.  It also has the deterministic UUID helpers that every part of the simulator
draws its ids with; it imports nothing else of the simulator, so the other modules can import it.
"""

from __future__ import annotations

import numpy as np

CURRENCY = "GBP"
# category -> (product noun, typical price in GBP); prices are jittered per seed.
CATALOGUE: dict[str, list[tuple[str, float]]] = {
    "Electronics": [("Headphones", 89), ("Bluetooth Speaker", 59), ("USB-C Charger", 19),
                    ("Smartwatch", 199), ("Earbuds", 49), ("Mechanical Keyboard", 99)],
    "Fashion": [("T-Shirt", 15), ("Jeans", 45), ("Rain Jacket", 79), ("Summer Dress", 39),
                ("Sneakers", 65), ("Wool Scarf", 22)],
    "Home & Kitchen": [("Mug Set", 18), ("Cookware Set", 129), ("Desk Lamp", 35), ("Cushion", 14),
                       ("Electric Kettle", 29), ("Knife Set", 55)],
    "Beauty": [("Moisturiser", 16), ("Eau de Parfum", 62), ("Lipstick", 12), ("Shampoo", 7),
               ("Face Serum", 28), ("Hair Dryer", 45)],
    "Sports": [("Yoga Mat", 22), ("Dumbbell Pair", 39), ("Running Shoes", 85), ("Water Bottle", 12),
               ("Tennis Racket", 110), ("Cycling Gloves", 19)],
    "Books": [("Crime Novel", 9), ("Cookbook", 20), ("Travel Guide", 15), ("Picture Book", 8),
              ("Biography", 18), ("Puzzle Book", 7)],
    "Toys": [("Jigsaw Puzzle", 14), ("Building Set", 49), ("Plush Bear", 16), ("Board Game", 29),
             ("RC Car", 39), ("Art Kit", 21)],
}
ADJECTIVES = ("Classic", "Eco", "Pro", "Urban", "Nordic", "Vintage", "Essential", "Deluxe")
# (ISO-2, fixed UTC offset in minutes -- no DST on purpose, share of visitors)
COUNTRIES = (("GB", 0, .40), ("IE", 0, .04), ("DE", 60, .12), ("FR", 60, .10), ("NL", 60, .07),
             ("ES", 60, .06), ("IT", 60, .05), ("US", -300, .11), ("CA", -300, .02), ("AU", 600, .03))
AGE_GROUPS = (("18-24", .14), ("25-34", .28), ("35-44", .23), ("45-54", .17), ("55-64", .11),
              ("65+", .07))
# Traffic sources: (channel, utm_source, utm_medium, utm_campaign, external referrer, weight of a
# session coming from it).  The last one only feeds the injected traffic spike.
SOURCES = (
    ("direct", None, None, None, None, .35),
    ("organic_search", None, None, None, "https://www.google.com/", .30),
    ("paid_search", "google", "cpc", "brand_search", "https://www.google.com/", .12),
    ("social", "instagram", "social", "spring_lookbook", "https://l.instagram.com/", .10),
    ("email", "newsletter", "email", "weekly_deals", None, .08),
    ("referral", None, None, None, "https://www.hotukdeals.com/", .03),
    ("affiliate", "awin", "affiliate", "partner_programme", "https://www.awin1.com/", .02),
    ("social", "tiktok", "social", "flash_sale", "https://www.tiktok.com/", 0.0),
)
SPIKE_SOURCE = len(SOURCES) - 1
PAGES = ("/", "/sale", "/new-in", "/about", "/delivery", "/gift-ideas")


def uuid_from_hex(h: str) -> str:
    """Format 32 hex digits as a version-4-looking UUID."""
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def uuid_like(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` UUID-like strings drawn from ``rng`` (deterministic, unlike ``uuid.uuid4``)."""
    h = rng.bytes(16 * n).hex()  # same format as uuid_from_hex, inlined: this runs per event
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-a{h[i + 17:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * n, 32)]


class _PopulationMixin:
    """Catalogue, visitors and devices of one run, kept as attributes of the run itself.

    A mixin of ``simulator._Simulator`` rather than an object of its own because the per-event
    loop reads these attributes for every event, and one attribute lookup is cheaper than two.
    Needs ``rng`` (traits), ``rng_ids`` (anonymous ids), ``users`` and ``days`` on the instance;
    the draws happen in call order: ``_make_catalogue``, ``_make_population``, then the session
    code's ``_add_devices``.
    """

    rng: np.random.Generator
    rng_ids: np.random.Generator
    users: int
    days: int

    def _make_catalogue(self) -> None:
        rng, rows = self.rng, []
        for category, nouns in CATALOGUE.items():
            for noun, base in nouns:
                price = max(round(base * rng.uniform(.85, 1.2)) - .01, 2.99)  # x.99 pricing
                name = f"{ADJECTIVES[rng.integers(len(ADJECTIVES))]} {noun}"
                rows.append((f"SKU-{10001 + len(rows)}", name, category, round(price, 2)))
        self.products = rows
        self.item_of = [{"item_id": p, "item_name": n, "item_category": c, "price": pr}
                        for p, n, c, pr in rows]
        self.slug = {c: c.lower().replace(" & ", "-").replace(" ", "-") for c in CATALOGUE}
        self.category_pages = tuple("/c/" + slug for slug in self.slug.values())
        self.site_pages = PAGES + self.category_pages
        # Zipf-like popularity over a seed-dependent ranking, as cumulative weights for choices()
        ranks = rng.permutation(len(rows)) + 1
        self.popularity = np.cumsum(1.0 / ranks**1.1).tolist()
        self.most_expensive = sorted(range(len(rows)), key=lambda i: -rows[i][3])[:4]

    def _make_population(self) -> None:
        """Per-visitor latent traits.  ~28 % of visitors never register (always anonymous)."""
        rng, n, days = self.rng, self.users, self.days
        self.registered = rng.random(n) < .72
        self.country = rng.choice(len(COUNTRIES), n, p=[c[2] for c in COUNTRIES])
        self.age = rng.choice(len(AGE_GROUPS), n, p=[a[1] for a in AGE_GROUPS])
        self.channel = rng.choice(SPIKE_SOURCE, n, p=[.3, .3, .15, .1, .08, .04, .03])
        # most customers signed up before the window, one in five during it
        self.signup_day = np.where(rng.random(n) < .8, -np.minimum(rng.exponential(300, n) + 1, 1500)
                                   .astype(np.int64), rng.integers(0, days, n))
        self.rate = rng.gamma(.8, 1 / .8, n) * np.where(self.registered, .17, .08)  # sessions/day
        self.propensity = rng.gamma(1.5, 1 / 1.5, n) * np.where(self.registered, 1.0, .55)
        # BG/NBD-style churn: after each purchase a customer drops out with probability p, so the
        # number of orders before dropping out is geometric.  Guests never "churn" this way.
        self.max_orders = np.where(self.registered, rng.geometric(rng.beta(2, 6, n)), 1 << 30)
        uid_numbers = np.cumsum(self.registered)
        self.user_ids = [f"U{k:07d}" if r else None for k, r in zip(uid_numbers.tolist(),
                                                                   self.registered.tolist())]
        # two device slots per visitor (anonymous_id stable per user-device); ~40 % use both
        primary = rng.choice(3, n, p=[.35, .55, .10])
        self.n_devices = 1 + (rng.random(n) < .4)
        self.dev_type = np.stack([primary, (primary + rng.integers(1, 3, n)) % 3], 1).ravel()
        self.dev_anon = uuid_like(self.rng_ids, 2 * n)
        self.dev_country = np.repeat(self.country, 2)
        self.dev_legacy = rng.random(2 * n) < .03  # devices still on the old tracker

    def _add_devices(self, count: int, types: np.ndarray, countries: np.ndarray) -> np.ndarray:
        """Register fresh devices (spike visitors, bots); returns their device indexes."""
        first = len(self.dev_anon)
        self.dev_anon += uuid_like(self.rng_ids, count)
        self.dev_type = np.concatenate([self.dev_type, types])
        self.dev_country = np.concatenate([self.dev_country, countries])
        self.dev_legacy = np.concatenate([self.dev_legacy, np.zeros(count, bool)])
        return np.arange(first, first + count)
