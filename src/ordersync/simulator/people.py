"""Deterministic customers and products of a simulated store.

A customer is a number within a store (see population.py for who buys when); their name, address and
identifiers follow from it. Everything is derived from integer hashes: no per-order Python objects.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_MASK64 = (1 << 64) - 1

FIRST_NAMES = (
    "Maria", "Ana", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda", "Patrícia",
    "Aline", "Camila", "Beatriz", "Larissa", "Letícia", "Gabriela", "Mariana", "Luana", "Sofia",
    "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz", "Marcos",
    "Rafael", "Gabriel", "Daniel", "Bruno", "Eduardo", "Felipe", "Rodrigo", "Thiago", "Matheus",
    "Gustavo", "Leonardo", "Vinícius",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes",
    "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques",
    "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.com.br", "example.net", "example.org", "mail.example")
# (city, state, postal prefix, latitude, longitude, neighborhoods)
CITIES = (
    ("São Paulo", "SP", "01", -23.5505, -46.6333, ("Pinheiros", "Moema", "Vila Mariana", "Tatuapé")),
    ("Rio de Janeiro", "RJ", "22", -22.9068, -43.1729, ("Botafogo", "Copacabana", "Tijuca", "Leblon")),
    ("Belo Horizonte", "MG", "30", -19.9167, -43.9345, ("Savassi", "Funcionários", "Pampulha", "Buritis")),
    ("Curitiba", "PR", "80", -25.4284, -49.2733, ("Batel", "Água Verde", "Centro Cívico", "Portão")),
    ("Porto Alegre", "RS", "90", -30.0346, -51.2177, ("Moinhos de Vento", "Menino Deus", "Petrópolis")),
    ("Salvador", "BA", "40", -12.9777, -38.5016, ("Barra", "Pituba", "Rio Vermelho", "Itaigara")),
    ("Recife", "PE", "50", -8.0476, -34.8770, ("Boa Viagem", "Casa Forte", "Graças", "Espinheiro")),
    ("Fortaleza", "CE", "60", -3.7319, -38.5267, ("Aldeota", "Meireles", "Cocó", "Fátima")),
    ("Brasília", "DF", "70", -15.7939, -47.8828, ("Asa Sul", "Asa Norte", "Lago Sul", "Sudoeste")),
    ("Campinas", "SP", "13", -22.9099, -47.0626, ("Cambuí", "Taquaral", "Barão Geraldo")),
    ("Florianópolis", "SC", "88", -27.5954, -48.5480, ("Centro", "Trindade", "Lagoa da Conceição")),
    ("Goiânia", "GO", "74", -16.6869, -49.2648, ("Setor Bueno", "Setor Marista", "Jardim Goiás")),
)  # fmt: skip
STREETS = (
    "Rua das Flores", "Avenida Paulista", "Rua Augusta", "Avenida Brasil", "Rua XV de Novembro",
    "Rua Sete de Setembro", "Avenida Atlântica", "Rua da Consolação", "Avenida Rio Branco",
    "Rua dos Andradas", "Rua Bela Cintra", "Avenida Ipiranga", "Rua Oscar Freire",
    "Rua Voluntários da Pátria",
)  # fmt: skip

_ADJECTIVES = ("Básica", "Premium", "Clássica", "Esportiva", "Slim", "Comfort", "Eco", "Urban", "Pro", "Soft")
_NOUNS = (
    ("Camiseta", 7, "Roupas"), ("Calça Jeans", 7, "Roupas"), ("Tênis Corrida", 9, "Calçados"),
    ("Mochila", 12, "Acessórios"), ("Garrafa Térmica", 15, "Casa"), ("Fone Bluetooth", 21, "Eletrônicos"),
    ("Caneca", 15, "Casa"), ("Jaqueta", 7, "Roupas"), ("Relógio", 12, "Acessórios"),
    ("Luminária", 15, "Casa"),
    ("Smartwatch", 21, "Eletrônicos"), ("Sandália", 9, "Calçados"), ("Boné", 12, "Acessórios"),
    ("Panela Antiaderente", 15, "Casa"), ("Carregador USB-C", 21, "Eletrônicos"), ("Vestido", 7, "Roupas"),
)  # fmt: skip
_VARIANTS = ("Azul", "Preto", "Branco", "Verde", "Vermelho", "Cinza", "P", "M", "G", "GG")
_BRANDS = ("Lux Brand", "Nativa", "Aurora", "Serra Azul", "Vento Sul", "Pampa", "Maré", "Cerrado")


def mix(*parts: int) -> int:
    """A 64-bit hash of integers (splitmix64 rounds); stable across runs and platforms."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (p & _MASK64)) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h


def hex_id(*parts: int, length: int = 32) -> str:
    """A deterministic upper-case-free hex string, e.g. for orderFormId or transaction ids."""
    out = ""
    i = 0
    while len(out) < length:
        out += f"{mix(*parts, i):016x}"
        i += 1
    return out[:length]


def uuid_like(*parts: int) -> str:
    return uuid_from_hex(hex_id(*parts, length=32))


def uuid_from_hex(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def order_hex(salt: int, key: int) -> str:
    """128 hex digits of per-order randomness, sliced into the order's ids."""
    return hashlib.blake2b(key.to_bytes(8, "little") + salt.to_bytes(8, "little"), digest_size=64).hexdigest()


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower().replace(" ", "")


def cpf(h: int) -> str:
    """A CPF (Brazilian tax id) with valid check digits."""
    return cpf_of([(h >> (4 * i)) % 10 for i in range(9)])


def cpf_of(digits: list[int]) -> str:
    """A CPF of nine base digits and its two mod-11 check digits."""
    digits = list(digits)
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        check = (total * 10) % 11
        digits.append(0 if check == 10 else check)
    return "".join(map(str, digits))


# Brazilian area codes (DDD) in use: phone numbers parse as valid mobiles.
AREA_CODES = (
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42, 43, 44,
    45, 46, 47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77, 79, 81,
    82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99,
)  # fmt: skip
# Multipliers coprime with 10: number -> digits is a bijection, so no two customers of a store share
# a document or a phone (the identity of simulated people must not merge by accident).
_DOC_MUL = 387_420_489  # 3**18
_PHONE_MUL = 43_046_721  # 3**16


@dataclass(frozen=True)
class Customer:
    number: int
    first_name: str
    last_name: str
    email: str
    document: str
    phone: str
    user_profile_id: str
    street: str
    street_number: str
    complement: str | None
    neighborhood: str
    city: str
    state: str
    postal_code: str
    latitude: float
    longitude: float
    address_id: str
    account_id: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@functools.lru_cache(maxsize=32_768)
def customer(salt: int, number: int) -> Customer:
    """Customer `number` of the store with hash salt `salt`."""
    h = mix(salt, number, 0xC057)
    h2 = mix(h, 1)
    first = FIRST_NAMES[h % len(FIRST_NAMES)]
    last = LAST_NAMES[(h >> 12) % len(LAST_NAMES)]
    domain = EMAIL_DOMAINS[(h >> 24) % len(EMAIL_DOMAINS)]
    city, state, prefix, lat, lon, hoods = CITIES[(h2 >> 8) % len(CITIES)]
    return Customer(
        number=number,
        first_name=first,
        last_name=last,
        email=f"{ascii_slug(first)}.{ascii_slug(last)}.{number}@{domain}",
        document=cpf_of([int(c) for c in f"{(number * _DOC_MUL + mix(salt, 2)) % 10**9:09d}"]),
        phone=f"+55{AREA_CODES[h2 % len(AREA_CODES)]}9{(number * _PHONE_MUL + mix(salt, 3)) % 10**8:08d}",
        user_profile_id=uuid_like(h, 3),
        street=STREETS[(h2 >> 16) % len(STREETS)],
        street_number=str(1 + (h2 >> 24) % 2500),
        complement=None if (h2 >> 36) % 3 == 0 else f"Apto {1 + (h2 >> 40) % 300}",
        neighborhood=hoods[(h2 >> 44) % len(hoods)],
        city=city,
        state=state,
        postal_code=f"{prefix}{(h2 >> 48) % 1000:03d}-{(h >> 40) % 1000:03d}",
        latitude=round(lat + ((h >> 32) % 2000 - 1000) / 20000.0, 6),
        longitude=round(lon + ((h >> 44) % 2000 - 1000) / 20000.0, 6),
        address_id=str(3_000_000_000_000 + (h2 % 999_999_999_999)),
        account_id=hex_id(h, 0xAC).upper(),
    )


@dataclass(frozen=True)
class Product:
    sku_id: str
    product_id: str
    name: str
    ref_id: str
    ean: str
    price: int
    list_price: int
    brand: str
    brand_id: str
    category_id: int
    category_name: str
    slug: str


def _ean13(h: int) -> str:
    digits = [7, 8, 9] + [(h >> (4 * i)) % 10 for i in range(9)]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


class ProductCatalog:
    """A store's products; prices live in a numpy array so order values are computed in bulk."""

    def __init__(self, salt: int, size: int = 300) -> None:
        rng = np.random.default_rng([salt, 0x50D])
        raw = np.exp(rng.normal(np.log(6000.0), 0.8, size))
        self.prices: NDArray[np.int64] = (np.clip(np.round(raw / 100.0), 5, 1999) * 100 - 10).astype(np.int64)
        self._by_price = np.argsort(self.prices, kind="stable").astype(np.uint16)
        self._sorted_prices = self.prices[self._by_price].astype(np.float64)
        self._midpoints = (self._sorted_prices[1:] + self._sorted_prices[:-1]) / 2.0
        self.products: list[Product] = []
        for p in range(size):
            h = mix(salt, p, 0x9D)
            noun, category_id, category = _NOUNS[h % len(_NOUNS)]
            name = f"{noun} {_ADJECTIVES[(h >> 8) % len(_ADJECTIVES)]} {_VARIANTS[(h >> 16) % len(_VARIANTS)]}"
            price = int(self.prices[p])
            brand_no = (h >> 24) % len(_BRANDS)
            self.products.append(
                Product(
                    sku_id=str(100 + p),
                    product_id=str(10 + p // 3),
                    name=name,
                    ref_id=f"REF{1000 + p}",
                    ean=_ean13(mix(h, 1)),
                    price=price,
                    list_price=price + (price * ((h >> 32) % 4) // 10) // 10 * 10,
                    brand=_BRANDS[brand_no],
                    brand_id=str(2_000_000 + brand_no),
                    category_id=category_id,
                    category_name=category,
                    slug=ascii_slug(name.replace(" ", "-")).replace("--", "-"),
                )
            )

    def __len__(self) -> int:
        return len(self.products)

    def draw(self, rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.uint16]:
        """Skewed popularity: a few products sell a lot."""
        size = len(self.products)
        return np.minimum((size * rng.random(shape) ** 2.0).astype(np.int64), size - 1).astype(np.uint16)

    def choose(
        self, rng: np.random.Generator, target: NDArray[np.float64], qty: NDArray[np.uint8]
    ) -> NDArray[np.uint16]:
        """Products for each line so that the lines' sum comes near `target` cents (0 on lines without units).

        Each line aims at its share of what is left (jittered, so one order's lines differ); the last
        line aims at the rest, which lands the sum within about a product's price step of the target.
        Lines are filled from the first, so only the orders still having line j are worked on.
        """
        n, lines = qty.shape
        q = qty.astype(np.int64)
        units_left = np.cumsum(q[:, ::-1], axis=1)[:, ::-1]
        remaining = target.astype(np.float64).copy()
        chosen = np.zeros((n, lines), dtype=np.uint16)
        for j in range(lines):
            rows = np.nonzero(q[:, j])[0]
            if not rows.size:
                break
            units, left, rest = q[rows, j], units_left[rows, j], remaining[rows]
            unit = np.where(left == units, rest / units, rest / left * rng.uniform(0.6, 1.4, rows.size))
            pos = np.searchsorted(self._midpoints, unit)  # the nearest price
            chosen[rows, j] = self._by_price[pos]
            remaining[rows] = rest - self._sorted_prices[pos] * units
        return chosen
