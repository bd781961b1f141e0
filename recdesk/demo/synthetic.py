"""Deterministic synthetic patients and their clinical-document PDFs, for the demo desk."""

from __future__ import annotations

import bisect
import datetime
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter
from typing import Any, Generic, TypeVar

from recdesk.pdf.fonts import latin1

_T = TypeVar("_T")

# The demo desk's "today": all history is before it, all appointments after it.
_TODAY = datetime.date(2026, 11, 26)
_TODAY_ORD = _TODAY.toordinal()
_NOW = datetime.datetime(2026, 11, 26, 12, 0)
_DAY = datetime.timedelta(days=1)
_MINUTE = datetime.timedelta(minutes=1)
_YEAR_DAYS = 365.2425

# MRNs: an affine bijection on [0, 10**7) (step coprime to 10**7), so indexes never collide.
_MRN_SPAN = 10**7
_MRN_BASE = 10**7
_MRN_STEP = 3_141_593
# Near-duplicate MRNs are 9 digits starting with 9, disjoint from the 8-digit patient MRNs.
_DUP_MRN_SPAN = 10**8
_DUP_MRN_BASE = 9 * 10**8
_DUP_MRN_STEP = 27_182_819
_SEED_SPREAD = 2_654_435_761


class _Weighted(Generic[_T]):
    """Items with relative weights, sampled by bisecting cumulative weights built once."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Sequence[tuple[_T, float]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> _T:
        return self.items[bisect.bisect(self.cum, rng.random() * self.total)]


def _names(spec: str, default: int = 2) -> _Weighted[str]:
    """Parse "Smith 80, de la Cruz 3, Okafor" (a trailing integer is the weight) into a sampler."""
    pairs: list[tuple[str, float]] = []
    for raw in spec.split(","):
        entry = " ".join(raw.split())
        if not entry:
            continue
        name, _, weight = entry.rpartition(" ")
        pairs.append((name, int(weight)) if weight.isdigit() else (entry, default))
    return _Weighted(pairs)


@dataclass(frozen=True, slots=True)
class _Origin:
    last: _Weighted[str]
    female: _Weighted[str]
    male: _Weighted[str]


def _origin(last: str, female: str, male: str) -> _Origin:
    return _Origin(_names(last), _names(female), _names(male))


# Weights are rough per-origin frequencies, so Smith, García, Nguyen, Lee and Patel dominate.
_ANGLO = _origin(
    """Smith 90, Johnson 70, Williams 60, Brown 52, Jones 52, Miller 41, Davis 40, Wilson 27,
    Anderson 26, Taylor 25, Thomas 25, Moore 24, Jackson 24, Martin 23, Lee 22, Thompson 21,
    White 21, Harris 19, Clark 18, Lewis 18, Robinson 17, Walker 17, Young 16, Allen 16, King 16,
    Wright 15, Scott 15, Hill 15, Green 14, Adams 14, Baker 14, Nelson 13, Carter 13, Mitchell 13,
    Roberts 13, Turner 12, Phillips 12, Campbell 12, Parker 12, Evans 11, Edwards 11, Collins 11,
    Stewart 10, Morris 10, Rogers 9, Reed 9, Cook 9, Morgan 9, Bell 9, Cooper 9, Howard 9, Ward 8,
    Cox 8, Richardson 8, Wood 8, Watson 8, Brooks 8, Bennett 8, Gray 8, James 8, Hughes 7, Price 7,
    Sanders 7, Myers 7, Long 7, Ross 7, Foster 7, Powell 6, Jenkins 6, Perry 6, Russell 6, Bailey 6,
    Washington 6, Butler 6, Barnes 6, Fisher 5, Henderson 5, Coleman 5, Simmons 5, Patterson 5,
    Jordan 5, Reynolds 5, Hamilton 5, Graham 5, Wallace 5, Cole 5, West 5, Hayes 5, Ellis 5,
    Gibson 5, Ford 5, Marshall 5, Owens 4, Harrison 4, Smith-Jones 1, Whitfield-Brown 1""",
    """Mary 30, Patricia 20, Jennifer 20, Linda 18, Elizabeth 18, Barbara 16, Susan 15, Jessica 15,
    Sarah 14, Karen 14, Lisa 13, Nancy 12, Betty 10, Margaret 11, Sandra 10, Ashley 11, Kimberly 10,
    Emily 10, Donna 9, Michelle 9, Carol 9, Amanda 9, Dorothy 8, Melissa 8, Deborah 8, Stephanie 8,
    Rebecca 8, Sharon 7, Laura 7, Cynthia 7, Kathleen 7, Amy 7, Angela 7, Shirley 6, Anna 6,
    Brenda 6, Pamela 6, Emma 6, Nicole 6, Helen 6, Samantha 6, Katherine 6, Christine 5, Debra 5,
    Rachel 5, Carolyn 5, Janet 5, Catherine 5, Heather 5, Diane 5, Ruth 5, Julie 5, Olivia 5,
    Joyce 4, Virginia 4, Victoria 4, Kelly 4, Lauren 4, Christina 4, Joan 4, Evelyn 4, Judith 4,
    Megan 4, Andrea 4, Cheryl 4, Hannah 4, Jacqueline 4, Martha 4, Gloria 4, Teresa 4, Ann 4,
    Sara 3, Madison 3, Frances 3, Kathryn 3, Janice 3, Jean 3, Abigail 3, Alice 3, Judy 3, Sophia 3,
    Grace 3, Denise 3, Amber 3, Doris 3, Marilyn 3, Danielle 3, Beverly 3, Isabella 3, Theresa 3,
    Diana 3, Natalie 3, Brittany 3, Charlotte 3, Marie 3, Kayla 3, Alexis 3, Lori 3, Ava 3, Mia 3,
    Harper 2, Aaliyah 2, Imani 2, Keisha 2, Tamika 2, Latoya 2, Shanice 2, Zoë 1, Renée 1,
    Mary-Kate 1, Anne-Marie 1""",
    """James 30, Robert 28, John 28, Michael 26, David 24, William 22, Richard 18, Joseph 17,
    Thomas 16, Christopher 15, Charles 14, Daniel 14, Matthew 13, Anthony 12, Mark 11, Donald 11,
    Steven 10, Paul 10, Andrew 10, Joshua 10, Kenneth 9, Kevin 9, Brian 9, George 9, Timothy 8,
    Ronald 8, Edward 8, Jason 8, Jeffrey 8, Ryan 8, Jacob 7, Gary 7, Nicholas 7, Eric 7,
    Jonathan 7, Stephen 6, Larry 6, Justin 6, Scott 6, Brandon 6, Benjamin 6, Samuel 6, Gregory 5,
    Alexander 5, Frank 5, Patrick 5, Raymond 5, Jack 5, Dennis 5, Jerry 5, Tyler 5, Aaron 5,
    Henry 4, Douglas 4, Peter 4, Adam 4, Nathan 4, Zachary 4, Walter 4, Kyle 4, Harold 4, Carl 4,
    Jeremy 4, Keith 4, Roger 4, Gerald 4, Ethan 4, Arthur 4, Terry 3, Christian 3, Sean 3,
    Lawrence 3, Austin 3, Noah 3, Jesse 3, Albert 3, Bryan 3, Billy 3, Bruce 3, Willie 3, Jordan 3,
    Dylan 3, Alan 3, Ralph 3, Gabriel 3, Roy 3, Wayne 3, Eugene 3, Logan 3, Randy 3, Louis 3,
    Russell 3, Vincent 3, Philip 3, Bobby 3, Johnny 3, Bradley 3, Liam 3, Elijah 3, Oliver 3,
    DeShawn 2, Jamal 2, Darnell 2, Tyrone 2, Malik 2, Terrell 2, D'Andre 1, Marquis 2""",
)

_ORIGINS: _Weighted[_Origin] = _Weighted(
    [
        (_ANGLO, 44),
        (
            _origin(
                """García 30, Rodríguez 26, Martínez 24, Hernández 24, López 20, González 20,
                Pérez 14, Sánchez 13, Ramírez 12, Torres 9, Flores 9, Rivera 9, Gómez 8, Díaz 8,
                Cruz 6, Morales 6, Reyes 6, Gutiérrez 5, Ortiz 5, Chávez 5, Ramos 5, Ruiz 5,
                Álvarez 5, Mendoza 5, Castillo 4, Jiménez 4, Vásquez 4, Moreno 4, Romero 4,
                Herrera 4, Medina 4, Aguilar 4, Vargas 4, Guzmán 3, Muñoz 3, Castro 3,
                de la Cruz 3, de León 2, Peña 2, Ibáñez 1, Garcia 6, Rodriguez 5, Hernandez 5""",
                """María 12, Guadalupe 4, Rosa 4, Ana 5, Carmen 4, Sofía 4, Lucía 3, Valentina 3,
                Ximena 2, Isabel 3, Gabriela 3, Mariana 3, Daniela 3, Alejandra 3, Verónica 2,
                Yesenia 2, María José 2, Juana 2, Leticia 2, Adriana 2""",
                """José 12, Juan 9, Luis 7, Carlos 7, Jesús 5, Miguel 5, Jorge 4, Alejandro 4,
                Francisco 4, Antonio 4, Manuel 4, Pedro 3, Ricardo 3, Javier 3, Fernando 3,
                Raúl 2, Andrés 2, Sebastián 2, Mateo 2, Santiago 2, Juan Carlos 2, José Luis 2""",
            ),
            19,
        ),
        (
            _origin(
                """Nguyen 40, Nguyễn 6, Tran 12, Trần 2, Le 8, Lê 2, Pham 7, Phạm 1, Hoang 3,
                Huynh 4, Vo 3, Vu 3, Dang 2, Bui 2, Do 2, Ho 2, Ngo 2, Duong 2, Ly 2""",
                """Linh, Lan, Mai, Huong, Thảo, Ngọc, Trang, Hoa, Anh, Thuy""",
                """Minh, Tuấn, Duc, Hung, Long, Quang, Khanh, Bao, Phuc, Thanh""",
            ),
            2,
        ),
        (
            _origin(
                """Wang 8, Li 8, Zhang 7, Liu 6, Chen 8, Yang 4, Huang 4, Zhao 3, Wu 4, Zhou 3,
                Xu 3, Sun 2, Ma 2, Zhu 2, Hu 2, Guo 2, Lin 4, Chan 4, Wong 5, Leung 2""",
                """Mei, Xiu Ying, Li Na, Jing, Yan, Hui, Fang, Xin, Ying, Wen""",
                """Wei, Jun, Hao, Lei, Jie, Tao, Ming, Qiang, Yong, Zhi Hao""",
            ),
            3,
        ),
        (
            _origin(
                """Kim 20, Lee 14, Park 10, Choi 5, Jung 4, Kang 3, Cho 3, Yoon 2, Jang 2, Lim 2,
                Han 2, Shin 2""",
                """Ji-woo, Seo-yeon, Min-ji, Eun-ji, Soo-jin, Hye-jin, Yuna, Ha-eun""",
                """Min-jun, Ji-hoon, Seo-jun, Hyun-woo, Jae-won, Dong-hyun, Sung-min, Joon-ho""",
            ),
            1.5,
        ),
        (
            _origin(
                """Patel 30, Shah 8, Singh 10, Kumar 8, Sharma 6, Gupta 5, Reddy 5, Rao 4, Iyer 2,
                Desai 3, Mehta 3, Joshi 3, Nair 2, Chopra 2, Kapoor 2, Agarwal 2, Banerjee 2,
                Chatterjee 2, Das 2, Menon 2""",
                """Priya, Ananya, Deepa, Kavya, Lakshmi, Meera, Pooja, Sunita, Anjali, Divya""",
                """Arjun, Rahul, Vikram, Sanjay, Rajesh, Amit, Ravi, Anil, Suresh, Rohan""",
            ),
            3,
        ),
        (
            _origin(
                """Ahmed 6, Ali 6, Hassan 5, Hussein 3, Ibrahim 3, Mahmoud 3, Mohamed 4,
                Abdullah 2, Haddad 2, Khalil 2, Nasser 2, Saleh 2, Farah 2, Al-Sayed 2, El-Amin 1,
                Abu-Zaid 1, Mansour 2, Aziz 2""",
                """Fatima, Aisha, Layla, Mariam, Noor, Yasmin, Zainab, Huda, Rania, Salma""",
                """Mohammed, Ahmad, Omar, Yusuf, Khalid, Hamza, Tariq, Karim, Samir, Ibrahim""",
            ),
            1.5,
        ),
        (
            _origin(
                """Okafor, Adeyemi, Okonkwo, Adebayo, Eze, Nwosu, Balogun, Ogunleye, Obi, Chukwu,
                Oyelaran, Afolabi, Ogbonna""",
                """Chioma, Ngozi, Adaeze, Funmilayo, Folake, Amaka, Ifeoma, Oluwaseun, Temitope,
                Yetunde""",
                """Chinedu, Emeka, Babatunde, Chukwuemeka, Obinna, Tunde, Ifeanyi, Segun, Adewale,
                Kunle""",
            ),
            1.5,
        ),
        (
            _origin(
                """Nowak 4, Kowalski 3, Wiśniewski 2, Wójcik 2, Kowalczyk 2, Kamiński 2,
                Lewandowski 2, Zieliński 2, Szymański 2, Woźniak 2, Dąbrowski 2, Kozłowski 2,
                Jankowski 2, Mazur 2, Krawczyk 2""",
                """Agnieszka, Małgorzata, Katarzyna, Joanna, Zofia, Ewa, Magdalena, Beata""",
                """Piotr, Krzysztof, Tomasz, Paweł, Łukasz, Grzegorz, Wojciech, Andrzej""",
            ),
            2,
        ),
        (
            _origin(
                """Müller 6, Schmidt 6, Schneider 4, Fischer 4, Weber 3, Meyer 4, Wagner 3,
                Becker 3, Schulz 2, Hoffmann 3, Schäfer 2, Koch 2, Bauer 2, Richter 2, Klein 3,
                Wolf 2, Schröder 2, Neumann 2, Zimmermann 2, Krüger 2, Braun 2, Hartmann 2,
                Köhler 2, Weiß 1, Van Der Berg 2, de Vries 2, Van Dijk 2, Bakker 2, Janssen 2,
                Visser 1, de Jong 2, Van den Heuvel 1""",
                """Sabine, Monika, Birgit, Greta, Lena, Hannelore, Ingrid, Käthe, Anouk, Femke,
                Sanne""",
                """Jürgen, Klaus, Dieter, Wolfgang, Stefan, Lukas, Matthias, Uwe, Günter, Joost,
                Pieter, Thijs""",
            ),
            4,
        ),
        (
            _origin(
                """Murphy 6, Kelly 5, O'Brien 5, O'Sullivan 3, Walsh 4, O'Connor 4, McCarthy 4,
                Byrne 3, Ryan 4, O'Neill 3, Doyle 3, Gallagher 3, Quinn 3, Sullivan 4, Kennedy 3,
                Flanagan 2, McDonald 3, Fitzgerald 3, O'Donnell 2, Brennan 2""",
                """Siobhán, Aoife, Niamh, Saoirse, Máire, Bridget, Colleen, Erin, Maeve, Róisín""",
                """Seán, Patrick, Liam, Cormac, Declan, Eoin, Ciarán, Brendan, Conor, Padraig""",
            ),
            4,
        ),
        (
            _origin(
                """Johansson, Andersson, Hansen, Johansen, Larsen, Nielsen, Jensen, Pedersen, Olsen,
                Karlsson, Nilsson, Eriksson, Lindqvist, Øvrebø, Bjørnstad, Sørensen, Åberg,
                Lindström, Haugen, Berg""",
                """Ingrid, Astrid, Sigrid, Solveig, Freja, Linnéa, Åsa, Kirsten, Ingeborg, Maja""",
                """Lars, Anders, Nils, Bjørn, Erik, Sven, Magnus, Henrik, Olav, Søren""",
            ),
            2,
        ),
        (
            _origin(
                """Dubois, Lefèvre, Moreau, Laurent, Girard, Bonnet, Dupont, Lambert, Fontaine,
                Rousseau, Beaulieu, Côté, Gagnon, Bélanger, Tremblay, Lévesque, LeBlanc, D'Amour""",
                """Amélie, Céline, Hélène, Élodie, Chloé, Margaux, Brigitte, Sylvie, Océane,
                Geneviève""",
                """Jean-Luc, Jean-Pierre, François, Étienne, Théo, Mathieu, Rémi, Olivier, Gaël,
                Benoît""",
            ),
            2,
        ),
        (
            _origin(
                """Rossi 3, Russo 3, Ferrari 2, Esposito 3, Bianchi 2, Romano 3, Colombo 2, Ricci 2,
                Marino 2, Greco 2, Bruno 2, Gallo 2, Conti 2, De Luca 2, D'Angelo 2, Mancini 2,
                Costa 2, Giordano 2, Lombardi 2, Moretti 2, Di Stefano 1, DeMarco 1""",
                """Giulia, Francesca, Chiara, Alessandra, Giovanna, Lucia, Rosa, Antonella,
                Federica, Simona""",
                """Giuseppe, Giovanni, Antonio, Marco, Luca, Alessandro, Francesco, Matteo,
                Salvatore, Niccolò""",
            ),
            3,
        ),
        (
            _origin(
                """Papadopoulos, Pappas, Georgiou, Nikolaidis, Konstantinidis, Dimitriou, Vlachos,
                Antoniou, Karagiannis, Christodoulou""",
                """Eleni, Katerina, Sofia, Dimitra, Athena, Georgia, Ioanna, Despina""",
                """Georgios, Dimitrios, Konstantinos, Nikolaos, Christos, Panagiotis, Stavros,
                Yiannis""",
            ),
            1,
        ),
        (
            _origin(
                """Ivanov, Smirnov, Kuznetsov, Popov, Volkov, Sokolov, Petrov, Ivanova, Smirnova,
                Petrova, Fedorov, Morozov""",
                """Olga, Natalia, Svetlana, Tatiana, Irina, Anastasia, Yekaterina, Ludmila""",
                """Dmitri, Sergei, Alexei, Vladimir, Nikolai, Mikhail, Andrei, Yuri""",
            ),
            1.5,
        ),
        (
            _origin(
                """Santos 4, Reyes 3, Dela Cruz 3, Bautista 2, Ocampo 2, Mendoza 2, Aquino 2,
                Villanueva 2, Ramos 2, Castillo 2, Manalo 1, Pascual 1, Soriano 1, Magbanua 1,
                Dimaculangan 1""",
                """Maricel, Rowena, Jocelyn, Mylene, Analyn, Kristine, Jasmine, Rhea""",
                """Jose, Rommel, Jericho, Arnel, Ronaldo, Jun, Mark Anthony, Reynaldo""",
            ),
            2,
        ),
        (
            _origin(
                """Sato, Suzuki, Takahashi, Tanaka, Watanabe, Itō, Yamamoto, Nakamura, Kobayashi,
                Katō, Yoshida, Yamada, Sasaki, Matsumoto, Inoue""",
                """Yuki, Haruka, Aiko, Emi, Keiko, Sakura, Yui, Naomi, Mei""",
                """Hiroshi, Takeshi, Kenji, Haruto, Daisuke, Kenta, Shota, Sōta""",
            ),
            1,
        ),
    ]
)


def _pick_name(rng: random.Random, sex: str) -> tuple[str, str, str]:
    """(first, middle, last): given names mostly share the surname's origin, as in real families."""
    r = rng.random
    origin = _ORIGINS.pick(rng)
    last = origin.last.pick(rng)
    if r() < 0.03:
        other = origin.last.pick(rng) if r() < 0.6 else _ORIGINS.pick(rng).last.pick(rng)
        if other != last:
            last = f"{last}-{other}"
    given = origin if r() < 0.7 else _ANGLO
    if sex == "F" or (sex == "U" and r() < 0.5):
        pool = given.female
    else:
        pool = given.male
    first = pool.pick(rng)
    middle = "" if r() < 0.3 else pool.pick(rng)
    return first, ("" if middle == first else middle), last


_INPATIENT_SERVICES = _Weighted(
    [
        ("Hospital Medicine", 30),
        ("Cardiology", 12),
        ("Pulmonology", 6),
        ("Neurology", 6),
        ("Oncology", 5),
        ("Gastroenterology", 5),
        ("Orthopedics", 5),
        ("Nephrology", 3),
    ]
)
_OUTPATIENT_SERVICES = _Weighted(
    [
        ("Family Medicine", 25),
        ("Cardiology", 10),
        ("Endocrinology", 7),
        ("Dermatology", 5),
        ("Gastroenterology", 5),
        ("Rheumatology", 3),
        ("Orthopedics", 6),
        ("Oncology", 4),
        ("Pulmonology", 4),
        ("Neurology", 4),
        ("Nephrology", 2),
    ]
)
_SURGICAL_SERVICES = _Weighted(
    [
        ("General Surgery", 10),
        ("Orthopedic Surgery", 8),
        ("Urology", 4),
        ("Ophthalmology", 4),
        ("Otolaryngology", 3),
        ("Gynecology", 3),
        ("Vascular Surgery", 2),
        ("Cardiothoracic Surgery", 2),
        ("Neurosurgery", 2),
    ]
)
_ENCOUNTER_TYPES = _Weighted([("outpatient", 45), ("inpatient", 22), ("ed", 25), ("surgery", 8)])
_ENCOUNTER_COUNTS = _Weighted([(0, 12), (1, 30), (2, 22), (3, 14), (4, 10), (5, 7), (6, 5)])
_APPOINTMENT_COUNTS = _Weighted([(0, 65), (1, 25), (2, 10)])

# Hospital patients skew old, but newborns and children are a real share of any registry.
_AGE_BANDS: _Weighted[tuple[int, int]] = _Weighted(
    [
        ((lo_years * 365, int((hi_years + 1) * _YEAR_DAYS) - 2), weight)
        for lo_years, hi_years, weight in (
            (0, 0, 4),
            (1, 17, 14),
            (18, 39, 22),
            (40, 64, 32),
            (65, 84, 23),
            (85, 100, 5),
        )
    ]
)


def _build_roster() -> dict[str, tuple[str, ...]]:
    """A fixed set of attendings per service, the same every run."""
    rng = random.Random("recdesk-staff-roster")
    services = [
        *_INPATIENT_SERVICES.items,
        *_OUTPATIENT_SERVICES.items,
        *_SURGICAL_SERVICES.items,
        "Emergency Medicine",
        "Pediatrics",
        "Neonatology",
        "Obstetrics",
        "Pediatric Surgery",
        "Radiology",
        "Pathology",
    ]
    roster: dict[str, tuple[str, ...]] = {}
    for service in dict.fromkeys(services):
        doctors = []
        for _ in range(4):
            first, _middle, last = _pick_name(rng, "F" if rng.random() < 0.5 else "M")
            doctors.append(f"Dr. {first} {last}")
        roster[service] = tuple(doctors)
    return roster


_ROSTER = _build_roster()

# (city, state, zip prefix, area codes): a North Texas catchment plus some out-of-area patients.
_LOCAL_CITIES = (
    ("Dallas", "TX", "752", ("214", "469", "972")),
    ("Plano", "TX", "750", ("469", "972")),
    ("Garland", "TX", "750", ("214", "972")),
    ("Irving", "TX", "750", ("214", "972")),
    ("Richardson", "TX", "750", ("469", "972")),
    ("Mesquite", "TX", "751", ("214", "972")),
    ("McKinney", "TX", "750", ("469", "972")),
    ("Frisco", "TX", "750", ("469", "214")),
    ("Fort Worth", "TX", "761", ("817", "682")),
    ("Arlington", "TX", "760", ("817", "682")),
    ("Denton", "TX", "762", ("940",)),
    ("Tyler", "TX", "757", ("903", "430")),
)
_FAR_CITIES = (
    ("Houston", "TX", "770", ("713", "832", "281")),
    ("Austin", "TX", "787", ("512", "737")),
    ("San Antonio", "TX", "782", ("210", "726")),
    ("Oklahoma City", "OK", "731", ("405",)),
    ("Shreveport", "LA", "711", ("318",)),
    ("Little Rock", "AR", "722", ("501",)),
    ("Albuquerque", "NM", "871", ("505",)),
    ("Phoenix", "AZ", "850", ("602", "480")),
    ("Denver", "CO", "802", ("303", "720")),
    ("Chicago", "IL", "606", ("312", "773")),
    ("Atlanta", "GA", "303", ("404", "678")),
)
_STREETS = (
    "Oak", "Maple", "Elm", "Cedar", "Pine", "Main", "Park", "Lake", "Hill", "Washington",
    "Lincoln", "Jefferson", "Sunset", "Ridge", "Meadow", "Willow", "Pecan", "Magnolia",
    "Bluebonnet", "Mockingbird", "Preston", "Greenville", "Live Oak", "San Jacinto", "Juniper",
    "Hickory", "Cottonwood", "Sycamore", "Forest", "Walnut", "Church", "Mill", "Spring Valley",
)  # fmt: skip
_STREET_SUFFIXES = ("St", "Ave", "Dr", "Ln", "Rd", "Blvd", "Ct", "Way", "Pkwy", "Trl", "Cir", "Pl")

# (payer, member-id prefix, digits, has a group number); Medicare uses the MBI format instead.
_COMMERCIAL = _Weighted(
    [
        (("Blue Cross Blue Shield", "XOJ", 9, True), 30),
        (("UnitedHealthcare", "", 9, True), 25),
        (("Aetna", "W", 9, True), 18),
        (("Cigna", "U", 8, True), 14),
        (("Humana", "H", 8, True), 6),
        (("Ambetter", "U7", 9, False), 4),
        (("Tricare", "", 11, False), 3),
    ]
)
_MEDICAID = ("Texas Medicaid", "", 9, False)
_MEDIGAP = _Weighted(
    [
        (("AARP Medicare Supplement", "", 11, False), 4),
        (("Blue Cross Medigap", "XOJ", 9, True), 3),
        (("Texas Medicaid", "", 9, False), 2),
    ]
)
_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
_MBI_ALNUM = "0123456789" + _MBI_LETTERS


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10**n)).zfill(n)


def _mbi(rng: random.Random) -> str:
    """A string shaped like a Medicare Beneficiary Identifier (CMS digit/letter layout)."""
    c = rng.choice
    return "".join(
        (
            c("123456789"), c(_MBI_LETTERS), c(_MBI_ALNUM), c("0123456789"),
            c(_MBI_LETTERS), c(_MBI_ALNUM), c("0123456789"), c(_MBI_LETTERS),
            c(_MBI_LETTERS), c("0123456789"), c("0123456789"),
        )
    )  # fmt: skip


def _policy(rng: random.Random, plan: tuple[str, str, int, bool]) -> dict[str, str]:
    payer, prefix, digits, has_group = plan
    group = f"{rng.randrange(10000, 999999)}" if has_group else ""
    return {"payer": payer, "member_id": prefix + _digits(rng, digits), "group": group}


def _insurance(rng: random.Random, age: float) -> list[dict[str, str]]:
    r = rng.random()
    if age >= 65:
        if r < 0.04:
            return [_policy(rng, _COMMERCIAL.pick(rng))]
        plans = [{"payer": "Medicare", "member_id": _mbi(rng), "group": ""}]
        if rng.random() < 0.45:
            plans.append(_policy(rng, _MEDIGAP.pick(rng)))
        return plans
    if age < 19:
        if r < 0.05:
            return []
        return [_policy(rng, _MEDICAID if r < 0.48 else _COMMERCIAL.pick(rng))]
    if r < 0.11:
        return []
    if r < 0.29:
        return [_policy(rng, _MEDICAID)]
    plans = [_policy(rng, _COMMERCIAL.pick(rng))]
    if rng.random() < 0.08:
        plans.append(_policy(rng, _COMMERCIAL.pick(rng)))
    return plans


def _address(rng: random.Random) -> tuple[dict[str, str], tuple[str, ...]]:
    """An address plus the area codes that go with it."""
    cities = _LOCAL_CITIES if rng.random() < 0.9 else _FAR_CITIES
    city, state, zip_prefix, area_codes = cities[int(rng.random() * len(cities))]
    street = (
        f"{rng.randrange(100, 9999)} {_STREETS[int(rng.random() * len(_STREETS))]} "
        f"{_STREET_SUFFIXES[int(rng.random() * len(_STREET_SUFFIXES))]}"
    )
    if rng.random() < 0.15:
        street += f" Apt {rng.randrange(1, 40)}{'ABCD'[int(rng.random() * 4)]}"
    zip_code = f"{zip_prefix}{rng.randrange(100):02d}"
    return {"street": street, "city": city, "state": state, "zip": zip_code}, area_codes


def _phone(rng: random.Random, area_codes: tuple[str, ...]) -> str:
    # 555-0100..0199 is reserved for fiction, so no real subscriber is ever shown.
    return f"({area_codes[int(rng.random() * len(area_codes))]}) 555-01{rng.randrange(100):02d}"


def _pick_from(rng: random.Random, items: Sequence[_T]) -> _T:
    return items[int(rng.random() * len(items))]


_VISIT_HOURS = {"ed": (2.0, 10.0), "outpatient": (0.5, 3.0), "surgery": (3.0, 8.0)}


def _surgery_times(rng: random.Random, admit: datetime.datetime,
                   discharge: datetime.datetime) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """When a surgery encounter's operation began and ended: after an hour or more of pre-op, finished at least half
    an hour before discharge (a short visit is operated in its middle). Times after the desk's "now" are not recorded
    yet: an operation still under way has no end, one still to come no start."""
    start = admit + (60 + 15 * int(rng.random() * 7)) * _MINUTE  # 1 to 2.5 hours of pre-op
    length = (35 + int(rng.random() * 206)) * _MINUTE  # 35 minutes to 4 hours
    if start + length > discharge - 30 * _MINUTE:
        minutes = (discharge - admit) // _MINUTE
        start = admit + minutes // 4 * _MINUTE
        length = min(length, max(minutes // 2, 1) * _MINUTE)
    end = start + length
    return (start if start <= _NOW else None), (end if end <= _NOW else None)


def _encounter(rng: random.Random, dob_ord: int, last_ord: int, sex: str, stream: str) -> dict[str, Any]:
    """One encounter from the patient's stream `rng`; a surgery encounter's operating times come from a stream of
    their own (`stream`: the encounter's key) so that they change nothing else about the patient."""
    r = rng.random
    kind = _ENCOUNTER_TYPES.pick(rng)
    # Most activity is recent (the last 8 years); the rest is spread over the whole lifetime.
    lo = dob_ord if r() < 0.2 else max(dob_ord, last_ord - 8 * 365)
    day = lo + int(r() * (last_ord - lo + 1))
    age = (day - dob_ord) / _YEAR_DAYS
    if kind == "ed":
        service = "Emergency Medicine"
        minute = int(r() * 1440)
    elif kind == "surgery":
        service = "Pediatric Surgery" if age < 16 else _SURGICAL_SERVICES.pick(rng)
        if service == "Gynecology" and sex != "F":
            service = "General Surgery"
        minute = 360 + 15 * int(r() * 37)
    elif kind == "inpatient":
        if age < 28 / 365:
            service = "Neonatology"
        elif age < 18:
            service = "Pediatrics"
        elif sex == "F" and 16 <= age <= 45 and r() < 0.3:
            service = "Obstetrics"
        else:
            service = _INPATIENT_SERVICES.pick(rng)
        minute = int(r() * 1440)
    else:
        service = "Pediatrics" if age < 18 else _OUTPATIENT_SERVICES.pick(rng)
        minute = 450 + 15 * int(r() * 37)
    midnight = datetime.datetime.fromordinal(day)
    admit = midnight + minute * _MINUTE
    # A visit on the desk's own day must have started by its "now" (noon).
    if admit > _NOW:
        admit -= 12 * 60 * _MINUTE
    if kind == "inpatient" or (kind == "surgery" and r() < 0.3):
        stay = 1 + int(r() * (14 if kind == "inpatient" else 5))
        discharge = admit.replace(hour=0, minute=0) + stay * _DAY + (600 + int(r() * 420)) * _MINUTE
    else:
        shortest, longest = _VISIT_HOURS[kind]
        minutes = int((shortest + r() * (longest - shortest)) * 60)
        # Same-day visits that would run past midnight end at a random earlier time instead.
        left_today = int((midnight + _DAY - admit) / _MINUTE) - 1
        discharge = admit + (minutes if minutes <= left_today else int(r() * left_today)) * _MINUTE
    surgery_at = surgery_end_at = None
    if kind == "surgery":
        surgery_at, surgery_end_at = _surgery_times(random.Random(f"{stream}:surgery"), admit, discharge)
    return {
        "type": kind,
        "admit": admit,
        "discharge": None if discharge > _NOW else discharge,
        "service": service,
        "attending": _pick_from(rng, _ROSTER[service]),
        "surgery_at": surgery_at,
        "surgery_end_at": surgery_end_at,
    }


_APPOINTMENT_SLOTS = tuple(
    datetime.datetime.combine(day, datetime.time(8 + q // 4, 15 * (q % 4)))
    for day in (_TODAY + n * _DAY for n in range(1, 15))
    if day.weekday() < 5
    for q in range(35)
)


def _appointments(rng: random.Random, count: int, age: float) -> list[dict[str, Any]]:
    appointments = []
    for slot in sorted(rng.sample(range(len(_APPOINTMENT_SLOTS)), count)):
        service = "Pediatrics" if age < 18 else _OUTPATIENT_SERVICES.pick(rng)
        appointments.append(
            {
                "clinic": f"{service} Clinic",
                "at": _APPOINTMENT_SLOTS[slot],
                "provider": _pick_from(rng, _ROSTER[service]),
            }
        )
    return appointments


@dataclass(frozen=True)
class SyntheticPatient:
    """One fictional person as registered at the demo desk."""

    mrn: str
    last: str
    first: str
    middle: str
    dob: datetime.date
    sex: str
    ssn_last4: str
    phone: str
    address: dict[str, str]
    insurance: list[dict[str, str]]
    sensitive: bool
    deceased: bool
    encounters: list[dict[str, Any]]
    appointments: list[dict[str, Any]]


def _patient_mrn(seed: int, index: int) -> str:
    if not 0 <= index < _MRN_SPAN:
        raise ValueError(f"index must be in [0, {_MRN_SPAN}), got {index}")
    return str(_MRN_BASE + (index * _MRN_STEP + seed * _SEED_SPREAD) % _MRN_SPAN)


def patient(seed: int, index: int) -> SyntheticPatient:
    """The index-th demo patient for a seed, for 0 <= index < 10**7.

    Each (seed, index) has its own random stream, so a patient never depends on which other
    indexes were generated and a build can resume at any index.
    """
    mrn = _patient_mrn(seed, index)
    rng = random.Random(f"{seed}:{index}")
    r = rng.random
    sex = "U" if r() < 0.01 else ("F" if r() < 0.51 else "M")
    lo_days, hi_days = _AGE_BANDS.pick(rng)
    age_days = lo_days + int(r() * (hi_days - lo_days + 1))
    dob_ord = _TODAY_ORD - age_days
    age = age_days / _YEAR_DAYS
    first, middle, last = _pick_name(rng, sex)
    ssn_last4 = "" if r() < 0.05 else f"{rng.randrange(1, 10000):04d}"
    address, area_codes = _address(rng)
    # Mobile numbers often keep an old area code, so a fifth come from anywhere.
    phone = _phone(rng, area_codes if r() < 0.8 else _pick_from(rng, _FAR_CITIES)[3])
    insurance = _insurance(rng, age)
    sensitive = r() < 0.01
    death_risk = 0.0 if age < 18 else 0.004 if age < 50 else 0.025 if age < 70 else 0.06
    deceased = r() < death_risk
    # A death happened sometime in the last 3 years; nothing can be recorded after it.
    last_ord = _TODAY_ORD - 15 - int(r() * 3 * 365) if deceased else _TODAY_ORD
    count = _ENCOUNTER_COUNTS.pick(rng)
    encounters = [_encounter(rng, dob_ord, last_ord, sex, f"{seed}:{index}:{n}") for n in range(count)]
    encounters.sort(key=itemgetter("admit"))
    appointments = [] if deceased else _appointments(rng, _APPOINTMENT_COUNTS.pick(rng), age)
    return SyntheticPatient(
        mrn=mrn,
        last=last,
        first=first,
        middle=middle,
        dob=datetime.date.fromordinal(dob_ord),
        sex=sex,
        ssn_last4=ssn_last4,
        phone=phone,
        address=address,
        insurance=insurance,
        sensitive=sensitive,
        deceased=deceased,
        encounters=encounters,
        appointments=appointments,
    )


def is_near_duplicate_index(seed: int, index: int) -> bool:
    """Whether desk slot `index` holds a duplicate registration (~0.5%); never slot 0."""
    return index > 0 and random.Random(f"{seed}:{index}:near-duplicate").random() < 0.005


# Characters that Unicode decomposition does not reduce to a base letter.
_FOLD = str.maketrans(
    {
        "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
        "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i", "–": "-", "—": "-", "‘": "'", "’": "'",
        "“": '"', "”": '"', "…": "...",
    }
)  # fmt: skip


def _fold(text: str) -> str:
    """Plain-ASCII spelling, as typed on a keyboard without accents ('Øvrebø' -> 'Ovrebo')."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Richard": "Rick", "James": "Jim", "John": "Johnny",
    "Michael": "Mike", "Joseph": "Joe", "Thomas": "Tom", "Christopher": "Chris",
    "Charles": "Charlie", "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony", "Steven": "Steve",
    "Andrew": "Andy", "Joshua": "Josh", "Kenneth": "Ken", "Timothy": "Tim", "Edward": "Ed",
    "Jeffrey": "Jeff", "Nicholas": "Nick", "Jonathan": "Jon", "Benjamin": "Ben", "Samuel": "Sam",
    "Gregory": "Greg", "Alexander": "Alex", "Patrick": "Pat", "Raymond": "Ray", "Douglas": "Doug",
    "Zachary": "Zach", "Lawrence": "Larry", "Gerald": "Jerry", "Philip": "Phil", "Donald": "Don",
    "Ronald": "Ron", "Elizabeth": "Liz", "Patricia": "Patty", "Jennifer": "Jen",
    "Margaret": "Peggy", "Katherine": "Kate", "Kimberly": "Kim", "Deborah": "Debbie",
    "Rebecca": "Becky", "Cynthia": "Cindy", "Kathleen": "Kathy", "Pamela": "Pam",
    "Samantha": "Sam", "Christine": "Chris", "Victoria": "Vicky", "Jacqueline": "Jackie",
    "Susan": "Sue", "Barbara": "Barb", "Abigail": "Abby", "Francisco": "Paco", "José": "Pepe",
    "Guadalupe": "Lupe", "Alejandro": "Alex", "Dmitri": "Dima", "Katarzyna": "Kasia",
    "Małgorzata": "Gosia", "Wojciech": "Wojtek", "Yekaterina": "Katya", "Anastasia": "Nastya",
    "Giuseppe": "Joe", "Giovanni": "John", "Mohammed": "Muhammad", "Babatunde": "Tunde",
    "Chukwuemeka": "Emeka", "Konstantinos": "Gus",
}  # fmt: skip
_NAME_PARTICLES = frozenset({"Al", "El", "Abu"})


def _typo(rng: random.Random, name: str) -> str:
    """One keying error: adjacent letters swapped, a letter dropped, or a letter doubled."""
    # Only lowercase pairs, so a swap never moves a capital ('aGry', 'MCcarthy').
    swaps = [
        i
        for i in range(1, len(name) - 1)
        if name[i].islower() and name[i + 1].islower() and name[i] != name[i + 1]
    ]
    kind = rng.random()
    if swaps and kind < 0.4:
        i = _pick_from(rng, swaps)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    # Registrars mistype letters, not the spaces, hyphens and apostrophes they look for.
    i = _pick_from(rng, [i for i in range(1, len(name)) if name[i].isalpha()] or [len(name) - 1])
    if len(name) >= 4 and kind < 0.7:
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


_Variant = Callable[[random.Random], tuple[str, str, str]]


def _name_variants(first: str, middle: str, last: str) -> list[_Variant]:
    """The realistic ways a second registration could spell this (first, middle, last)."""
    variants: list[_Variant] = [
        lambda rng: (first, middle, _typo(rng, last)),
        lambda rng: (_typo(rng, first), middle, last),
    ]
    if not (first + middle + last).isascii():
        variants.append(lambda rng: (_fold(first), _fold(middle), _fold(last)))
    if first in _NICKNAMES:
        variants.append(lambda rng: (_NICKNAMES[first], middle, last))
    if middle and middle != first:
        variants.append(lambda rng: (middle, first, last))
    parts = last.split("-")
    if len(parts) == 2 and parts[0] not in _NAME_PARTICLES:
        variants.append(lambda rng: (first, middle, _pick_from(rng, parts)))
    elif any(c in last for c in " '-"):
        squeezed = last.replace(" ", "").replace("'", "").replace("-", "")
        variants.append(lambda rng: (first, middle, squeezed[0].upper() + squeezed[1:]))
    return variants


def near_duplicate(seed: int, index: int, original: SyntheticPatient) -> SyntheticPatient:
    """A second registration of the same person as `original`, for desk slot `index` (< 10**8).

    It gets a 9-digit MRN starting with 9 (patient() MRNs have 8 digits, so they never collide),
    keeps dob, sex and ssn_last4, and spells the name differently in one realistic way: a typo,
    dropped accents, a nickname, first and middle swapped, one half of a hyphenated surname, or
    a surname with its spaces and apostrophes squeezed out.
    """
    if not 0 <= index < _DUP_MRN_SPAN:
        raise ValueError(f"index must be in [0, {_DUP_MRN_SPAN}), got {index}")
    mrn = str(_DUP_MRN_BASE + (index * _DUP_MRN_STEP + seed * _SEED_SPREAD) % _DUP_MRN_SPAN)
    rng = random.Random(f"{seed}:{index}:near-duplicate-of:{original.mrn}")
    variants = _name_variants(original.first, original.middle, original.last)
    first, middle, last = _pick_from(rng, variants)(rng)
    age = (_TODAY_ORD - original.dob.toordinal()) / _YEAR_DAYS
    # The duplicate was typically made at an ED or phone registration, so its own history is thin.
    address, area_codes = _address(rng) if rng.random() < 0.3 else (dict(original.address), ())
    phone = _phone(rng, area_codes) if area_codes else original.phone
    # A deceased original's death date is unknown here, so its duplicate gets no visits to misdate.
    has_visit = rng.random() < 0.7 and not original.deceased
    encounters = (
        [_encounter(rng, original.dob.toordinal(), _TODAY_ORD, original.sex, f"{seed}:{index}:near-duplicate:0")]
        if has_visit
        else []
    )
    return SyntheticPatient(
        mrn=mrn,
        last=last,
        first=first,
        middle=middle,
        dob=original.dob,
        sex=original.sex,
        ssn_last4=original.ssn_last4,
        phone=phone,
        address=address,
        insurance=[dict(plan) for plan in original.insurance] if rng.random() < 0.5 else [],
        sensitive=False,
        deceased=False,
        encounters=encounters,
        appointments=[] if original.deceased else _appointments(rng, int(rng.random() < 0.2), age),
    )


@dataclass(frozen=True)
class SyntheticDocument:
    """One scanned-style clinical document belonging to a synthetic patient."""

    doc_type: str
    service_date: datetime.date
    title: str
    pages: int
    body: list[str]


# Per service: (diagnosis, presenting complaint, what was done about it).
_PROBLEMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Hospital Medicine": (
        ("community-acquired pneumonia", "three days of fever, productive cough and dyspnea",
         "was treated with intravenous ceftriaxone and azithromycin, then oral therapy"),
        ("cellulitis of the left lower extremity", "spreading redness and swelling of the left leg",
         "received intravenous cefazolin with marked reduction in erythema"),
        ("urinary tract infection with sepsis", "fever, confusion and dysuria",
         "was resuscitated with intravenous fluids and treated with ceftriaxone"),
        ("acute kidney injury", "poor oral intake and decreased urine output",
         "was managed with volume repletion and holding of nephrotoxic medications"),
    ),
    "Cardiology": (
        ("atrial fibrillation with rapid ventricular response", "palpitations and lightheadedness",
         "achieved rate control with metoprolol and was started on apixaban"),
        ("acute decompensated heart failure", "worsening dyspnea, orthopnea and leg swelling",
         "was diuresed with intravenous furosemide to a net negative balance of 4 liters"),
        ("non-ST elevation myocardial infarction", "substernal chest pressure at rest",
         "underwent cardiac catheterization with placement of a drug-eluting stent"),
    ),
    "Pulmonology": (
        ("COPD exacerbation", "increased sputum and shortness of breath",
         "was treated with nebulized bronchodilators, prednisone and doxycycline"),
        ("acute pulmonary embolism", "pleuritic chest pain and tachycardia",
         "was anticoagulated with heparin and transitioned to apixaban"),
    ),
    "Neurology": (
        ("acute ischemic stroke", "sudden right arm weakness and word-finding difficulty",
         "received thrombolysis and was monitored in the stroke unit"),
        ("new-onset seizure", "a witnessed generalized seizure at home",
         "was loaded with levetiracetam, and an EEG and MRI were obtained"),
    ),
    "Oncology": (
        ("neutropenic fever", "fever ten days after chemotherapy",
         "was treated with cefepime until count recovery"),
        ("cancer-related pain", "uncontrolled back pain",
         "had analgesia optimized with palliative care input"),
    ),
    "Gastroenterology": (
        ("upper gastrointestinal bleed", "black stools and lightheadedness",
         "underwent endoscopy with clipping of a duodenal ulcer"),
        ("acute pancreatitis", "severe epigastric pain radiating to the back",
         "was managed with bowel rest, fluids and analgesia"),
    ),
    "Orthopedics": (
        ("closed fracture of the right hip", "a fall at home with inability to bear weight",
         "underwent operative fixation and began physical therapy on day one"),
        ("osteoarthritis of the knee", "progressive knee pain limiting walking",
         "received a corticosteroid injection and a home exercise program"),
    ),
    "Nephrology": (
        ("hyperkalemia in chronic kidney disease", "weakness and an abnormal potassium level",
         "was treated with insulin, dextrose and a potassium binder"),
    ),
    "Family Medicine": (
        ("essential hypertension", "elevated home blood pressure readings",
         "had the antihypertensive regimen adjusted"),
        ("type 2 diabetes mellitus", "a routine diabetes follow-up",
         "had metformin continued and dietary counseling provided"),
    ),
    "Endocrinology": (
        ("poorly controlled type 2 diabetes mellitus", "a rising hemoglobin A1c",
         "was started on a GLP-1 receptor agonist"),
        ("hypothyroidism", "fatigue and weight gain", "had the levothyroxine dose increased"),
    ),
    "Dermatology": (
        ("atypical nevus of the back", "a changing mole", "underwent a shave biopsy"),
    ),
    "Rheumatology": (
        ("rheumatoid arthritis", "morning stiffness of the hands", "was started on methotrexate"),
    ),
    "Emergency Medicine": (
        ("laceration of the left forearm", "a kitchen knife injury",
         "had the wound irrigated and closed with sutures"),
        ("ankle sprain", "twisting the right ankle while running",
         "was splinted and given crutches"),
        ("syncope", "a brief loss of consciousness while standing",
         "had a normal ECG and orthostatic vital signs"),
        ("abdominal pain, unspecified", "crampy lower abdominal pain",
         "had a CT scan without acute findings"),
    ),
    "Pediatrics": (
        ("bronchiolitis", "cough, wheeze and poor feeding",
         "received supportive care with nasal suction and supplemental oxygen"),
        ("acute otitis media", "ear pain and fever", "was started on amoxicillin"),
        ("dehydration due to gastroenteritis", "vomiting and diarrhea",
         "was rehydrated with intravenous fluids"),
    ),
    "Neonatology": (
        ("neonatal jaundice", "yellowing of the skin on day three of life",
         "was treated with phototherapy until bilirubin declined"),
    ),
    "Obstetrics": (
        ("term pregnancy in spontaneous labor", "regular contractions",
         "had an uncomplicated vaginal delivery of a healthy infant"),
    ),
}  # fmt: skip
_PROCEDURES: dict[str, tuple[str, ...]] = {
    "General Surgery": (
        "laparoscopic cholecystectomy", "laparoscopic appendectomy", "inguinal hernia repair",
    ),
    "Orthopedic Surgery": (
        "total knee arthroplasty", "open reduction internal fixation of the distal radius",
    ),
    "Urology": (
        "cystoscopy with ureteral stent placement", "transurethral resection of the prostate",
    ),
    "Ophthalmology": ("cataract extraction with intraocular lens implantation",),
    "Otolaryngology": ("tonsillectomy", "functional endoscopic sinus surgery"),
    "Gynecology": ("laparoscopic hysterectomy", "dilation and curettage"),
    "Vascular Surgery": ("arteriovenous fistula creation", "carotid endarterectomy"),
    "Cardiothoracic Surgery": (
        "coronary artery bypass grafting x3", "video-assisted thoracoscopic wedge resection",
    ),
    "Neurosurgery": ("lumbar microdiscectomy", "anterior cervical discectomy and fusion"),
    "Pediatric Surgery": ("laparoscopic appendectomy", "umbilical hernia repair"),
}  # fmt: skip
_BEDSIDE_PROCEDURES = (
    "blood transfusion",
    "central venous catheter placement",
    "lumbar puncture",
    "procedural sedation",
    "MRI with gadolinium contrast",
)
_COMORBIDITIES = (
    "hypertension", "type 2 diabetes mellitus", "hyperlipidemia", "chronic kidney disease stage 3",
    "hypothyroidism", "gastroesophageal reflux disease", "osteoarthritis", "asthma",
    "obstructive sleep apnea", "depression", "atrial fibrillation", "coronary artery disease",
)  # fmt: skip
_CHILD_COMORBIDITIES = ("asthma", "eczema", "seasonal allergies", "a history of prematurity")
_MEDICATIONS = (
    "lisinopril 10 mg daily", "metformin 500 mg twice daily", "atorvastatin 40 mg nightly",
    "levothyroxine 75 mcg daily", "amlodipine 5 mg daily", "omeprazole 20 mg daily",
    "albuterol inhaler 2 puffs every 4 hours as needed", "sertraline 50 mg daily",
    "apixaban 5 mg twice daily", "metoprolol succinate 50 mg daily", "furosemide 40 mg daily",
    "acetaminophen 650 mg every 6 hours as needed", "tamsulosin 0.4 mg nightly",
)  # fmt: skip
_CHILD_MEDICATIONS = (
    "acetaminophen 15 mg/kg every 6 hours as needed", "vitamin D 400 IU daily",
    "albuterol inhaler 2 puffs every 4 hours as needed", "cetirizine 5 mg daily",
)  # fmt: skip
_ALLERGIES = _Weighted(
    [
        ("No known drug allergies.", 60),
        ("Penicillin (rash).", 12),
        ("Sulfa drugs (hives).", 7),
        ("Latex (contact dermatitis).", 3),
        ("Codeine (nausea).", 5),
        ("Iodinated contrast (itching).", 3),
    ]
)
# (panel, analytes as (name, unit, low, high, decimals)).
_LAB_PANELS = (
    ("Basic Metabolic Panel", (
        ("Sodium", "mmol/L", 135, 145, 0), ("Potassium", "mmol/L", 3.5, 5.1, 1),
        ("Chloride", "mmol/L", 98, 107, 0), ("Carbon dioxide", "mmol/L", 22, 29, 0),
        ("BUN", "mg/dL", 7, 20, 0), ("Creatinine", "mg/dL", 0.6, 1.2, 2),
        ("Glucose", "mg/dL", 70, 99, 0), ("Calcium", "mg/dL", 8.5, 10.2, 1),
    )),
    ("Complete Blood Count", (
        ("WBC", "10^3/uL", 4.0, 11.0, 1), ("Hemoglobin", "g/dL", 12.0, 16.0, 1),
        ("Hematocrit", "%", 36, 46, 1), ("Platelets", "10^3/uL", 150, 400, 0),
        ("MCV", "fL", 80, 100, 0), ("RDW", "%", 11.5, 14.5, 1),
    )),
    ("Lipid Panel", (
        ("Total cholesterol", "mg/dL", 125, 199, 0), ("LDL cholesterol", "mg/dL", 40, 99, 0),
        ("HDL cholesterol", "mg/dL", 40, 80, 0), ("Triglycerides", "mg/dL", 40, 149, 0),
    )),
    ("Hepatic Function Panel", (
        ("AST", "U/L", 10, 40, 0), ("ALT", "U/L", 7, 56, 0),
        ("Alkaline phosphatase", "U/L", 44, 147, 0), ("Total bilirubin", "mg/dL", 0.1, 1.2, 1),
        ("Albumin", "g/dL", 3.5, 5.0, 1),
    )),
    ("Hemoglobin A1c", (("Hemoglobin A1c", "%", 4.0, 5.6, 1),)),
)  # fmt: skip
# (exam, normal finding, abnormal finding).
_IMAGING = (
    ("Chest X-ray, 2 Views",
     "The lungs are clear. The cardiomediastinal silhouette is within normal limits.",
     "Patchy right lower lobe opacity with a small right pleural effusion."),
    ("CT Head without Contrast",
     "No intracranial hemorrhage, mass effect or midline shift.",
     "Chronic small-vessel ischemic change without acute abnormality."),
    ("CT Abdomen and Pelvis with Contrast",
     "The solid organs enhance normally. No free fluid or free air.",
     "Dilated appendix measuring 11 mm with periappendiceal fat stranding."),
    ("Ultrasound Abdomen Complete",
     "The liver, gallbladder, pancreas, kidneys and spleen are unremarkable.",
     "Multiple gallstones with gallbladder wall thickening and a sonographic Murphy sign."),
    ("MRI Lumbar Spine without Contrast",
     "Normal vertebral body height and marrow signal.",
     "L4-L5 disc extrusion contacting the traversing left L5 nerve root."),
    ("X-ray Right Ankle, 3 Views",
     "No acute fracture or dislocation. The mortise is congruent.",
     "Soft tissue swelling over the lateral malleolus without fracture."),
)  # fmt: skip
_FILLER = (
    "Vital signs were reviewed and remained within acceptable limits.",
    "Medication reconciliation was completed with the patient and the outpatient pharmacy.",
    "Nursing documentation was reviewed and no acute events were reported overnight.",
    "Case management assisted with discharge planning and transportation.",
    "Laboratory trends were reviewed and are filed in the results section of the chart.",
    "Fall precautions and venous thromboembolism prophylaxis were continued.",
    "Interpreter services were offered and the preferred language was documented.",
    "Pain was assessed every shift and controlled on the current regimen.",
    "Diet was advanced as tolerated and nutrition services provided education.",
    "Physical therapy evaluated mobility and recommended continued home exercises.",
)
# Which documents each kind of encounter produces; None is a patient with no encounters.
_DOC_TYPES: dict[str | None, _Weighted[str]] = {
    "inpatient": _Weighted(
        [
            ("discharge_summary", 5),
            ("history_and_physical", 4),
            ("lab_result", 3),
            ("consult_report", 3),
            ("radiology_report", 2),
        ]
    ),
    "surgery": _Weighted(
        [("operative_report", 6), ("consent", 3), ("history_and_physical", 2), ("lab_result", 1)]
    ),
    "ed": _Weighted(
        [("radiology_report", 3), ("lab_result", 3), ("correspondence", 1), ("consent", 1)]
    ),
    "outpatient": _Weighted(
        [("correspondence", 3), ("consult_report", 2), ("lab_result", 3), ("radiology_report", 2)]
    ),
    None: _Weighted([("correspondence", 3), ("lab_result", 2), ("consent", 1)]),
}
_PAGE_RANGES = {
    "discharge_summary": (2, 4),
    "history_and_physical": (2, 3),
    "lab_result": (1, 1),
    "consult_report": (1, 3),
    "operative_report": (2, 3),
    "radiology_report": (1, 2),
    "consent": (1, 2),
    "correspondence": (1, 1),
}
_DOCUMENT_COUNTS = _Weighted([(1, 45), (2, 35), (3, 20)])


@dataclass(frozen=True, slots=True)
class _Context:
    """What the text templates say about one patient at one encounter."""

    name: str
    formal: str
    age: str
    noun: str
    they: str
    child: bool
    service: str
    attending: str
    start: datetime.date
    end: datetime.date


def _age_phrase(dob: datetime.date, on: datetime.date) -> tuple[str, int]:
    years = on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
    if years >= 2:
        return f"{years}-year-old", years
    months = (on.year - dob.year) * 12 + on.month - dob.month - (on.day < dob.day)
    if months >= 1:
        return f"{months}-month-old", years
    return f"{(on - dob).days}-day-old", years


def _context(
    p: SyntheticPatient, service: str, attending: str, start: datetime.date, end: datetime.date
) -> _Context:
    age, years = _age_phrase(p.dob, start)
    child = years < 18
    noun, they, title = {
        "F": ("girl" if child else "woman", "she", "Ms."),
        "M": ("boy" if child else "man", "he", "Mr."),
    }.get(p.sex, ("patient", "they", "Mx."))
    formal = p.first if child else f"{title} {p.last}"
    return _Context(
        f"{p.first} {p.last}", formal, age, noun, they, child, service, attending, start, end
    )


def _problem(rng: random.Random, c: _Context, service: str = "") -> tuple[str, str, str]:
    service = service or c.service
    # Children get pediatric problems whichever adult-named service saw them.
    if c.child and service not in ("Neonatology", "Emergency Medicine"):
        service = "Pediatrics"
    return _pick_from(rng, _PROBLEMS.get(service, _PROBLEMS["Hospital Medicine"]))


def _history(rng: random.Random, c: _Context) -> str:
    if not c.child:
        return ", ".join(rng.sample(_COMORBIDITIES, 1 + int(rng.random() * 3)))
    if rng.random() < 0.6:
        return "no significant past medical history"
    return _pick_from(rng, _CHILD_COMORBIDITIES)


def _medications(rng: random.Random, c: _Context) -> str:
    pool = _CHILD_MEDICATIONS if c.child else _MEDICATIONS
    return "; ".join(rng.sample(pool, 1 + int(rng.random() * 4)))


def _vitals(rng: random.Random) -> str:
    return (
        f"Temperature {36.4 + rng.random() * 2:.1f} C, heart rate {rng.randrange(62, 112)}, "
        f"blood pressure {rng.randrange(102, 162)}/{rng.randrange(58, 96)}, respiratory rate "
        f"{rng.randrange(12, 23)}, oxygen saturation {rng.randrange(92, 101)}% on room air."
    )


def _discharge_summary(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    diagnosis, complaint, course = _problem(rng, c)
    disposition = _pick_from(rng, ("Home", "Home with home health", "Skilled nursing facility"))
    return "Discharge Summary", [
        f"ADMISSION DATE: {c.start:%m/%d/%Y}. DISCHARGE DATE: {c.end:%m/%d/%Y}. "
        f"SERVICE: {c.service}. ATTENDING: {c.attending}.",
        f"PRINCIPAL DIAGNOSIS: {diagnosis.capitalize()}.",
        f"HOSPITAL COURSE: {c.name} is a {c.age} {c.noun} with {_history(rng, c)} who presented "
        f"with {complaint}. {c.they.capitalize()} {course}. {c.they.capitalize()} improved "
        "steadily and at discharge was tolerating a regular diet.",
        f"DISCHARGE MEDICATIONS: {_medications(rng, c)}.",
        f"CONDITION AT DISCHARGE: Stable. DISPOSITION: {disposition}.",
        f"FOLLOW-UP: {c.service} clinic in {rng.randrange(1, 5)} weeks. Return precautions were "
        f"reviewed with {c.formal} and family, who verbalized understanding.",
    ]


def _history_and_physical(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    diagnosis, complaint, course = _problem(rng, c)
    household = _pick_from(rng, ("with family", "alone", "with a spouse"))
    smoking = _pick_from(rng, ("Never smoker.", "Former smoker.", "Current smoker."))
    return "History and Physical", [
        f"DATE OF ADMISSION: {c.start:%m/%d/%Y}. SERVICE: {c.service}. ATTENDING: {c.attending}.",
        f"CHIEF COMPLAINT: {complaint.capitalize()}.",
        f"HISTORY OF PRESENT ILLNESS: {c.name} is a {c.age} {c.noun} with {_history(rng, c)} "
        f"who reports {complaint}. Symptoms began {rng.randrange(1, 8)} days ago and have "
        "progressively worsened. There has been no recent travel or sick contact.",
        f"MEDICATIONS: {_medications(rng, c)}. ALLERGIES: {_ALLERGIES.pick(rng)}",
        f"SOCIAL HISTORY: Lives {household}. {'' if c.child else smoking}",
        f"PHYSICAL EXAMINATION: {_vitals(rng)} General: alert and in no acute distress. Lungs: "
        "clear bilaterally. Heart: regular rate and rhythm without murmur. Abdomen: soft.",
        f"ASSESSMENT AND PLAN: Working diagnosis of {diagnosis}. The expected course is that "
        f"the patient {course.split(',')[0]}. Plan discussed with {c.formal}, who agrees.",
    ]


def _lab_result(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    panel, analytes = _pick_from(rng, _LAB_PANELS)
    verifier = _pick_from(rng, _ROSTER["Pathology"])
    lines = [
        f"COLLECTED: {c.start:%m/%d/%Y} {rng.randrange(5, 10):02d}:{15 * rng.randrange(4):02d}. "
        f"SPECIMEN: Venous blood. ORDERING PROVIDER: {c.attending}.",
    ]
    for name, unit, low, high, decimals in analytes:
        # Most results are normal; about one in six lands anywhere near the range, flagged.
        spread = rng.random() * 1.6 - 0.3 if rng.random() < 0.17 else rng.random()
        value = low + (high - low) * spread
        flag = " H" if value > high else " L" if value < low else ""
        lines.append(f"{name}: {value:.{decimals}f} {unit}{flag} (reference {low}-{high})")
    lines.append(f"Results reviewed and electronically verified by {verifier}.")
    return f"Laboratory Report: {panel}", lines


def _consult_report(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    consultant = _OUTPATIENT_SERVICES.pick(rng)
    diagnosis, complaint, course = _problem(rng, c, consultant)
    doctor = _pick_from(rng, _ROSTER[consultant])
    return f"Consultation Report: {consultant}", [
        f"DATE OF CONSULTATION: {c.start:%m/%d/%Y}. REQUESTED BY: {c.attending} ({c.service}). "
        f"CONSULTANT: {doctor}.",
        f"REASON FOR CONSULTATION: Evaluation of {complaint}.",
        f"HISTORY: {c.name} is a {c.age} {c.noun} with {_history(rng, c)}. Current medications: "
        f"{_medications(rng, c)}. Allergies: {_ALLERGIES.pick(rng)}",
        f"EXAMINATION: {_vitals(rng)} The examination is otherwise notable only for findings "
        "consistent with the presenting complaint.",
        f"IMPRESSION: {diagnosis.capitalize()}.",
        f"RECOMMENDATIONS: 1. The patient {course.split(',')[0]}. 2. Repeat laboratory studies "
        f"in the morning. 3. {consultant} will follow and arrange clinic follow-up. Thank you "
        "for this consultation.",
    ]


def _operative_report(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    procedure = _pick_from(rng, _PROCEDURES.get(c.service, _PROCEDURES["General Surgery"]))
    anesthesia = _pick_from(rng, ("General endotracheal", "Monitored anesthesia care", "Spinal"))
    return f"Operative Report: {procedure.capitalize()}", [
        f"DATE OF SURGERY: {c.start:%m/%d/%Y}. SURGEON: {c.attending}. ANESTHESIA: {anesthesia}.",
        f"PROCEDURE: {procedure.capitalize()}. PREOPERATIVE AND POSTOPERATIVE DIAGNOSIS: "
        f"Indication for {procedure}, confirmed at surgery.",
        f"INDICATIONS: {c.name} is a {c.age} {c.noun} with {_history(rng, c)} who elected to "
        "proceed after a discussion of risks, benefits and alternatives. Consent is on file.",
        "DESCRIPTION OF PROCEDURE: The patient was identified in the preoperative area and "
        "brought to the operating room. A time-out confirmed patient, procedure and site. The "
        f"field was prepped and draped in sterile fashion. The {procedure} was performed "
        "without difficulty. Hemostasis was confirmed and the wound was closed in layers.",
        "FINDINGS: As expected from preoperative imaging. ESTIMATED BLOOD LOSS: "
        f"{rng.randrange(5, 300)} mL. OPERATIVE TIME: {rng.randrange(35, 240)} minutes. "
        "SPECIMENS: Sent to pathology.",
        "COMPLICATIONS: None. DISPOSITION: To the post-anesthesia care unit in stable condition.",
    ]


def _radiology_report(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    exam, normal, abnormal = _pick_from(rng, _IMAGING)
    is_normal = rng.random() < 0.6
    comparison = _pick_from(rng, ("None available.", "Prior study from last year."))
    return f"Radiology Report: {exam}", [
        f"EXAM: {exam}. DATE: {c.start:%m/%d/%Y}. ORDERING PROVIDER: {c.attending}.",
        f"CLINICAL INDICATION: {c.age.capitalize()} {c.noun} with {_problem(rng, c)[1]}.",
        f"TECHNIQUE: Standard departmental protocol. COMPARISON: {comparison}",
        f"FINDINGS: {normal if is_normal else abnormal}",
        f"IMPRESSION: {'No acute abnormality.' if is_normal else abnormal}",
        f"Electronically signed by {_pick_from(rng, _ROSTER['Radiology'])}.",
    ]


def _consent(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    procedure = _pick_from(rng, _PROCEDURES.get(c.service, _BEDSIDE_PROCEDURES))
    signer = "parent or legal guardian" if c.child else "patient"
    return f"Informed Consent: {procedure.capitalize()}", [
        f"I, the {signer} of {c.name}, consent to {procedure}, to be performed by {c.attending} "
        f"and associates on or about {c.start:%m/%d/%Y}.",
        "The nature and purpose of the procedure, its expected benefits, and its risks, including "
        "bleeding, infection, injury to nearby structures, and reactions to medication, have been "
        "explained to me. Alternatives, including no treatment, were discussed.",
        "I understand that no guarantee has been made about the outcome, and that additional "
        "procedures may be needed if unexpected conditions are found.",
        "I have had the opportunity to ask questions and all of my questions have been answered.",
        f"Signature of {signer}: ______________________   Date: ____________",
        f"Witness: ______________________   Interpreter used: {_pick_from(rng, ('No', 'Yes'))}",
    ]


def _correspondence(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    diagnosis, complaint, course = _problem(rng, c)
    signature = f"Sincerely, {c.attending}, {c.service}"
    if rng.random() < 0.5:
        return "Results Letter", [
            f"{c.end:%B %d, %Y}",
            f"Dear {c.formal},",
            f"Thank you for visiting {c.service} on {c.start:%m/%d/%Y}. Your recent test results "
            "have been reviewed and are enclosed with this letter.",
            f"Based on these results, we will continue your current plan for {diagnosis}. Please "
            "keep your scheduled follow-up appointment and call the clinic with any questions.",
            signature,
        ]
    return "Referral Letter", [
        f"{c.end:%B %d, %Y}",
        f"Dear {_pick_from(rng, _ROSTER['Family Medicine'])},",
        f"I saw your patient {c.name}, a {c.age} {c.noun}, on {c.start:%m/%d/%Y} for {complaint}.",
        f"My assessment is {diagnosis}. The patient {course.split(',')[0]}. Current medications: "
        f"{_medications(rng, c)}.",
        "I would be grateful if you would continue routine monitoring. Please do not hesitate to "
        "contact me with any questions.",
        signature,
    ]


_BUILDERS: dict[str, Callable[[random.Random, _Context], tuple[str, list[str]]]] = {
    "discharge_summary": _discharge_summary,
    "history_and_physical": _history_and_physical,
    "lab_result": _lab_result,
    "consult_report": _consult_report,
    "operative_report": _operative_report,
    "radiology_report": _radiology_report,
    "consent": _consent,
    "correspondence": _correspondence,
}


def _document(
    rng: random.Random, p: SyntheticPatient, encounter: dict[str, Any] | None, doc_type: str
) -> SyntheticDocument:
    if encounter is None:
        # Deceased patients' paperwork predates their death; everyone else's is recent.
        back = 3 * 365 + int(rng.random() * 365) if p.deceased else int(rng.random() * 120)
        start = end = max(p.dob, _TODAY - back * _DAY)
        service = "Pediatrics" if (_TODAY - p.dob).days < 18 * 365 else "Family Medicine"
        attending = _pick_from(rng, _ROSTER[service])
    else:
        start = encounter["admit"].date()
        end = (encounter["discharge"] or encounter["admit"]).date()
        service, attending = encounter["service"], encounter["attending"]
    if doc_type == "correspondence":
        end = min(_TODAY, end + int(rng.random() * 8) * _DAY)
    title, sections = _BUILDERS[doc_type](rng, _context(p, service, attending, start, end))
    low, high = _PAGE_RANGES[doc_type]
    pages = low + int(rng.random() * (high - low + 1))
    name = f"{p.last.upper()}, {p.first}{' ' + p.middle if p.middle else ''}"
    body = [
        f"PATIENT: {name}    MRN: {p.mrn}    DOB: {p.dob:%m/%d/%Y}    SEX: {p.sex}",
        "SYNTHETIC DEMONSTRATION RECORD - fictional patient, not for clinical use.",
        *sections,
    ]
    # Multi-page documents carry interval notes so that every page has text on it.
    heading = "PROGRESS NOTE" if doc_type == "discharge_summary" else "ADDITIONAL NOTE"
    for k in range(1, 5 * pages - len(body) + 1):
        body.append(f"{heading} {k}: " + " ".join(rng.sample(_FILLER, 3)))
    service_date = end if doc_type in ("discharge_summary", "correspondence") else start
    return SyntheticDocument(doc_type, service_date, title, pages, body)


def documents(seed: int, index: int, p: SyntheticPatient) -> list[SyntheticDocument]:
    """1-3 documents for patient `p` at desk slot `index`, from recent encounters, by date."""
    rng = random.Random(f"{seed}:{index}:documents")
    recent: list[dict[str, Any] | None] = [*p.encounters[-3:]] or [None]
    made: set[tuple[int, str]] = set()
    docs = []
    for _ in range(_DOCUMENT_COUNTS.pick(rng)):
        slot = int(rng.random() * len(recent))
        encounter = recent[slot]
        doc_type = _DOC_TYPES[encounter and encounter["type"]].pick(rng)
        if doc_type == "discharge_summary" and encounter and encounter["discharge"] is None:
            doc_type = "history_and_physical"  # still in house, so not discharged yet
        if (slot, doc_type) not in made:
            made.add((slot, doc_type))
            docs.append(_document(rng, p, encounter, doc_type))
    docs.sort(key=lambda d: d.service_date)
    return docs


# US Letter in millimetres; body text wraps between the margins and stops above the footer.
_PAGE_WIDTH, _MARGIN = 215.9, 16.0
_BODY_TOP, _BODY_BOTTOM = 47.0, 264.0
_BODY_PT, _LINE_MM, _GAP_MM = 10.0, 4.6, 2.2
_PT_MM = 25.4 / 72


def _wrap(text: str, widths: dict[str, int], limit_mm: float) -> list[str]:
    """Greedy word wrap on core-font metrics: fpdf2's multi_cell is ~20x slower at this."""
    scale = _BODY_PT * _PT_MM / 1000
    space = widths[" "] * scale
    lines: list[str] = []
    words: list[str] = []
    width = 0.0
    for word in text.split():
        word_width = sum(widths[ch] for ch in word) * scale
        if words and width + space + word_width > limit_mm:
            lines.append(" ".join(words))
            words, width = [word], word_width
        else:
            width += space + word_width if words else word_width
            words.append(word)
    lines.append(" ".join(words))
    return lines


def render_pdf(
    doc: SyntheticDocument, p: SyntheticPatient, facility: str = "Riverside General Hospital"
) -> bytes:
    """The document as a PDF of exactly doc.pages pages, each headed by facility, patient and page.

    fpdf2 bundles no Unicode font, so this uses core Helvetica and folds text outside latin-1 to
    its base letters ('Nguyễn' -> 'Nguyen'). Raises ValueError if the body cannot fit the pages.
    """
    # fpdf2 takes ~0.3 s to import and only rendering needs it.
    from fpdf import FPDF
    from fpdf.fonts import CORE_FONTS_CHARWIDTHS

    widths = CORE_FONTS_CHARWIDTHS["helvetica"]
    right = _PAGE_WIDTH - _MARGIN
    paragraphs = [_wrap(latin1(text), widths, right - _MARGIN) for text in doc.body]
    # Balance pages by line count: each paragraph goes to the page holding its midpoint.
    total = sum(len(lines) for lines in paragraphs) or 1
    per_page: list[list[list[str]]] = [[] for _ in range(doc.pages)]
    before = 0
    for lines in paragraphs:
        page = int((before + len(lines) / 2) * doc.pages / total)
        per_page[min(doc.pages - 1, page)].append(lines)
        before += len(lines)
    for number, chunk in enumerate(per_page, 1):
        height = sum(len(lines) * _LINE_MM + _GAP_MM for lines in chunk) - _GAP_MM
        if _BODY_TOP + height - _LINE_MM > _BODY_BOTTOM:
            raise ValueError(f"{doc.title!r}: body overflows page {number} of {doc.pages}")

    pdf = FPDF(unit="mm", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_title(latin1(doc.title))
    pdf.set_creator("recdesk synthetic demo data")
    # A fixed creation date makes the bytes, and fpdf2's content-hash file ID, reproducible.
    created = datetime.datetime.combine(doc.service_date, datetime.time(17), datetime.UTC)
    pdf.set_creation_date(created)
    name = latin1(f"{p.last.upper()}, {p.first}{' ' + p.middle if p.middle else ''}")
    patient_line = f"Patient: {name}   MRN: {p.mrn}   DOB: {p.dob:%m/%d/%Y}   Sex: {p.sex}"
    service_line = f"Date of service: {doc.service_date:%m/%d/%Y}"
    footer = "Synthetic demonstration document generated by recdesk - not a real patient record."
    for number, chunk in enumerate(per_page, 1):
        pdf.add_page()
        pdf.set_font("helvetica", "B", 13)
        pdf.text(_MARGIN, 17, latin1(facility))
        pdf.set_font("helvetica", "", 9)
        page_line = f"Page {number} of {doc.pages}"
        pdf.text(right - pdf.get_string_width(page_line), 17, page_line)
        pdf.text(_MARGIN, 30.5, patient_line)
        pdf.text(_MARGIN, 35.5, service_line)
        pdf.set_font("helvetica", "B", 11)
        pdf.text(_MARGIN, 24, latin1(doc.title))
        if p.sensitive:
            pdf.set_font("helvetica", "B", 9)
            pdf.set_text_color(170, 0, 0)
            pdf.text(right - pdf.get_string_width("RESTRICTED RECORD"), 35.5, "RESTRICTED RECORD")
            pdf.set_text_color(0)
        pdf.line(_MARGIN, 38, right, 38)
        pdf.set_font("helvetica", "", _BODY_PT)
        y = _BODY_TOP
        for lines in chunk:
            for line in lines:
                pdf.text(_MARGIN, y, line)
                y += _LINE_MM
            y += _GAP_MM
        pdf.set_font("helvetica", "I", 7.5)
        pdf.set_text_color(110)
        pdf.text(_MARGIN, 272, footer)
        pdf.set_text_color(0)
    return bytes(pdf.output())


# --- chart assembly work ---------------------------------------------------------------------------------------------
# Encounters dated relative to the day the demo runs (not the fixed _TODAY above), so that a demo desk always has
# tomorrow's admissions to assemble and recent discharges to analyse.

_FORMS = {
    "face_sheet": ("Face Sheet", "Registration face sheet: demographics, next of kin, payer and admitting information "
                   "as recorded at registration."),
    "consent": ("Consent to Treatment", "I consent to the routine services, diagnostic procedures and medical "
                "treatment ordered by my physicians while I am a patient of this hospital."),
    "npp_acknowledgment": ("Acknowledgment of the Notice of Privacy Practices", "I acknowledge that I was offered "
                           "a copy of this hospital's Notice of Privacy Practices."),
    "patient_rights_notice": ("Patient Rights and Responsibilities", "I received the statement of patient rights "
                              "and responsibilities and had the chance to ask questions about it."),
    "advance_directive": ("Advance Directive Status", "The patient was asked whether they have an advance "
                          "directive; the answer and any copy provided are recorded here."),
    "financial_responsibility": ("Financial Responsibility and Assignment of Benefits", "I assign my insurance "
                                 "benefits to the hospital and accept responsibility for charges not covered."),
    "important_message_medicare": ("An Important Message from Medicare About Your Rights", "You have the right to "
                                   "receive Medicare covered services and to appeal a discharge decision."),
    "hp_update": ("H&P Update", "History and physical reviewed; the patient was examined and there are no changes "
                  "since it was done."),
    "progress_note": ("Clinic Visit Note", "Subjective, objective findings, assessment and plan of today's visit."),
}
_SIGNED = "Signed: ______________________   Date: ____________   Time: ________"


def _form(rng: random.Random, p: SyntheticPatient, doc_type: str, day: datetime.date, service: str,
          attending: str) -> SyntheticDocument:
    """A one-page registration or consent form, or a clinical document from the existing builders."""
    if doc_type in _FORMS:
        title, text = _FORMS[doc_type]
        sections, pages = [f"SERVICE: {service}. ATTENDING: {attending}. DATE: {day:%m/%d/%Y}.", text, _SIGNED], 1
    else:
        title, sections = _BUILDERS[doc_type](rng, _context(p, service, attending, day, day))
        low, high = _PAGE_RANGES[doc_type]
        pages = low + int(rng.random() * (high - low + 1))
    name = f"{p.last.upper()}, {p.first}{' ' + p.middle if p.middle else ''}"
    body = [f"PATIENT: {name}    MRN: {p.mrn}    DOB: {p.dob:%m/%d/%Y}    SEX: {p.sex}",
            "SYNTHETIC DEMONSTRATION RECORD - fictional patient, not for clinical use.", *sections]
    for k in range(1, 5 * pages - len(body) + 1):
        body.append(f"ADDITIONAL NOTE {k}: " + " ".join(rng.sample(_FILLER, 3)))
    return SyntheticDocument(doc_type, day, title, pages, body)


def assembly_candidates(seed: int, patients: int) -> list[int]:
    """Desk slots whose patients suit assembly work: living, not restricted, not a duplicate registration."""
    out = []
    for index in range(min(patients, 400)):
        if is_near_duplicate_index(seed, index) or is_near_duplicate_index(seed, index + 1):
            continue
        p = patient(seed, index)
        if not p.deceased and not p.sensitive and (_TODAY - p.dob).days >= 18 * 365:
            out.append(index)
    return out


def scheduled_visit(seed: int, index: int, p: SyntheticPatient, day: datetime.date, slot: int,
                    kind: str) -> tuple[dict[str, Any], list[SyntheticDocument]]:
    """An encounter booked for `day` — an inpatient admission or a clinic visit — and the paperwork filed ahead of
    it (dated `day` - 1 or earlier): some of the registration forms, sometimes a pre-admission H&P."""
    rng = random.Random(f"{seed}:{index}:scheduled:{day.isoformat()}:{kind}")
    inpatient = kind == "inpatient"
    service = (_INPATIENT_SERVICES if inpatient else _OUTPATIENT_SERVICES).pick(rng)
    attending = _pick_from(rng, _ROSTER[service])
    minute = (6 * 60 + 30 + 40 * slot) if inpatient else (8 * 60 + 30 * slot)
    admit = datetime.datetime.combine(day, datetime.time.min) + minute * _MINUTE
    before = day - _DAY
    wanted = (["face_sheet", "consent", "financial_responsibility", "npp_acknowledgment", "history_and_physical"]
              if inpatient else ["face_sheet", "consent", "npp_acknowledgment"])
    docs = []
    for doc_type in wanted:
        if rng.random() < (0.45 if doc_type == "history_and_physical" else 0.6):
            when = before - int(rng.random() * 6) * _DAY if doc_type == "history_and_physical" else before
            docs.append(_form(rng, p, doc_type, when, service, attending))
    encounter = {"type": kind, "admit": admit, "discharge": None, "service": service, "attending": attending,
                 "surgery_at": None, "surgery_end_at": None}
    return encounter, docs


# The inpatient checklist item (data/checklists.toml) each document of a recent stay serves; the IM's is its
# admission copy, the one a stay without any is first missing.
STAY_ITEMS = {"face_sheet": "face_sheet", "consent": "consent_to_treat", "npp_acknowledgment": "npp_acknowledgment",
              "history_and_physical": "history_and_physical", "financial_responsibility": "financial_responsibility",
              "patient_rights_notice": "patient_rights_notice", "advance_directive": "advance_directive",
              "discharge_summary": "discharge_summary", "important_message_medicare": "im_admission"}


def recent_stay(seed: int, index: int, p: SyntheticPatient, today: datetime.date,
                days_ago: int) -> tuple[dict[str, Any], list[SyntheticDocument], list[tuple[str, str, str]]]:
    """An inpatient stay discharged `days_ago` days before `today` with some checklist documents filed, dated
    inside their windows, and some missing; plus the deficiencies the analyst opened for it, as
    (kind, filed document type it concerns or "", checklist item it marks). The stay has no surgery."""
    rng = random.Random(f"{seed}:{index}:stay:{days_ago}")
    service = _INPATIENT_SERVICES.pick(rng)
    attending = _pick_from(rng, _ROSTER[service])
    discharge_day = today - days_ago * _DAY
    admit = datetime.datetime.combine(discharge_day - (2 + int(rng.random() * 5)) * _DAY,
                                      datetime.time(int(rng.random() * 24), 15))
    discharge = datetime.datetime.combine(discharge_day, datetime.time(10 + int(rng.random() * 7), 30))
    medicare = any(i.get("payer") == "Medicare" for i in p.insurance)
    plan = [("face_sheet", 0.95), ("consent", 0.9), ("npp_acknowledgment", 0.8), ("history_and_physical", 0.8),
            ("financial_responsibility", 0.7), ("patient_rights_notice", 0.6), ("advance_directive", 0.5),
            ("discharge_summary", 0.55 if days_ago < 30 else 0.15)]  # the old ones are the delinquent ones
    if medicare:
        plan.append(("important_message_medicare", 0.85))
    docs, deficiencies = [], []
    for doc_type, odds in plan:
        if rng.random() >= odds:
            if doc_type == "discharge_summary":
                deficiencies.append(("missing_discharge_summary", "", STAY_ITEMS[doc_type]))
            elif doc_type == "history_and_physical":
                deficiencies.append(("missing_hp", "", STAY_ITEMS[doc_type]))
            elif rng.random() < 0.3:
                deficiencies.append(("missing_document", "", STAY_ITEMS[doc_type]))
            continue
        day = discharge_day if doc_type == "discharge_summary" else admit.date()
        docs.append(_form(rng, p, doc_type, day, service, attending))
        if doc_type == "important_message_medicare" and discharge_day > admit.date() + _DAY:
            docs.append(_form(rng, p, doc_type, discharge_day - _DAY, service, attending))  # the follow-up copy
    if any(d.doc_type == "history_and_physical" for d in docs) and rng.random() < 0.3:
        deficiencies.append(("missing_signature", "history_and_physical", STAY_ITEMS["history_and_physical"]))
    encounter = {"type": "inpatient", "admit": admit, "discharge": discharge, "service": service,
                 "attending": attending, "surgery_at": None, "surgery_end_at": None}
    return encounter, docs, list(dict.fromkeys(deficiencies))  # one deficiency of a kind per item
