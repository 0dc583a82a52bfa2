"""`manage.py seed_demo`: a believable company to click through. Idempotent.

Teams with leads, managers and employees; a user per role with a printed password;
six touchpoints with their own score distributions; about 20,000 responses over 180
days with realistic comments (some praising employees by name); their daily rollups;
a follow-up case for every detractor, in every state; Customer Champion postcards
and customer shout-outs.

Everything is drawn from fixed lists with random.Random(42), so two fresh databases
get the same demo, and a second run finds everything in place and adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cxhub import roles
from cxhub.models import Membership, Team
from feedback import demo as feedback_demo
from recognition import demo as recognition_demo
from surveys import nps, services
from surveys.models import Invitation, Person, Response, Touchpoint

User = get_user_model()

SEED = 42

# --- the organisation ----------------------------------------------------------------

# Staff and customers have no first name in common, so a customer never shares a
# name with an employee their comment might praise.
STAFF_FIRST = [
    "Lucas", "Amina", "Tom", "Julie", "Hugo", "Chloé", "Nina", "Marc", "Léa", "Omar",
    "Inès", "Paul", "Zoé", "Yann", "Alice", "Samir", "Claire", "Noah", "Priya", "Daniel",
    "Fatou", "Olivier", "Grace", "Mehdi", "Hannah", "Victor", "Sofia", "Rachid", "Laura",
    "Ethan", "Mia", "Thomas", "Aïcha", "Jonas", "Manon", "Kevin", "Elena", "Bastien",
    "Naomi", "Antoine", "Rosa", "Simon", "Yasmine", "Gabriel",
]  # fmt: skip
STAFF_LAST = [
    "Martin", "Dubois", "Laurent", "Leblanc", "Michel", "Garcia", "Roux", "Fournier",
    "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Chevalier", "Nguyen", "Rossi",
    "Diallo", "Perrin", "Morel", "Mercier", "Blanc", "Guerin", "Boyer", "Lemaire", "Andre",
    "Benali", "Clement", "Gauthier", "Robin", "Masson", "Sanchez", "Muller", "Henry",
    "Rousseau", "Lefevre", "Kowalski", "Meyer", "Barbier", "Da Silva", "O'Brien",
    "Vidal", "Okafor", "Renard", "Schmitt",
]  # fmt: skip
CUSTOMER_FIRST = [
    "James", "Olivia", "Mohammed", "Charlotte", "Pierre", "Sophie", "Ahmed", "Emily",
    "Jean", "Camille", "David", "Louise", "Youssef", "Anna", "Nicolas", "Marie",
    "Michael", "Sara", "Adrien", "Lina", "Robert", "Jade", "Ibrahim", "Lucie", "William",
    "Rebecca", "Matteo", "Clara", "Benoît", "Agathe", "Patrick", "Nadia", "George", "Elise",
]  # fmt: skip
CUSTOMER_LAST = [
    "Smith", "Petit", "Durand", "Leroy", "Moreau", "Lefebvre", "Roussel", "Brown",
    "Wilson", "Taylor", "Bertrand", "Garnier", "Faure", "Chauvin", "Marchand", "Colin",
    "Haddad", "Traoré", "Jones", "Evans", "Bailly", "Caron", "Picard", "Aubert", "Lemoine",
    "Weber", "Costa", "Ferreira", "Hoarau", "Barre",
]  # fmt: skip


class TeamSpec(NamedTuple):
    name: str
    slug: str
    managers: int
    employees: int


TEAMS = [
    TeamSpec("Onboarding", "onboarding", 2, 4),
    TeamSpec("Billing", "billing", 3, 4),
    TeamSpec("Customer Support", "customer-support", 3, 5),
    TeamSpec("Network", "network", 2, 3),
    TeamSpec("Retail", "retail", 2, 5),
    TeamSpec("Field Service", "field-service", 2, 4),
]


class DemoLogin(NamedTuple):
    username: str
    password: str
    role: str
    first_name: str
    last_name: str
    team: str | None = None
    membership: str | None = None
    group: str | None = None
    superuser: bool = False


DEMO_LOGINS = [
    DemoLogin("admin", "admin", "CX admin", "Ada", "Admin", group=roles.CX_ADMINS, superuser=True),
    DemoLogin("exec", "demo-exec", "Executive", "Eva", "Exec", group=roles.EXECUTIVES),
    DemoLogin(
        "lead",
        "demo-lead",
        "Team lead, Customer Support",
        "Louis",
        "Leclerc",
        "Customer Support",
        Membership.Role.LEAD,
    ),
    DemoLogin(
        "manager",
        "demo-manager",
        "Manager, Customer Support",
        "Sarah",
        "Lopez",
        "Customer Support",
        Membership.Role.MANAGER,
    ),
    DemoLogin(
        "manager2",
        "demo-manager2",
        "Manager, Billing",
        "Karim",
        "Bernard",
        "Billing",
        Membership.Role.MANAGER,
    ),
    DemoLogin(
        "employee",
        "demo-employee",
        "Employee, Network",
        "Emma",
        "Moreau",
        "Network",
        Membership.Role.EMPLOYEE,
    ),
]

# --- touchpoints and what customers say about them -------------------------------


class TouchpointSpec(NamedTuple):
    name: str
    slug: str
    team: str
    nps_target: int
    deadline_hours: int
    # Relative weight of each score 0..10: the touchpoint's character.
    weights: tuple[int, ...]
    # Relative share of all responses.
    volume: float
    # Detractors turn into promoters over the period, so one trend line climbs.
    improving: bool = False


TOUCHPOINTS = [
    TouchpointSpec(
        "Onboarding", "onboarding", "Onboarding", 40, 48, (1, 1, 1, 2, 2, 4, 6, 12, 18, 25, 28), 1.6
    ),
    TouchpointSpec(
        "Billing", "billing", "Billing", 20, 24, (5, 4, 5, 6, 7, 9, 10, 14, 14, 13, 13), 1.3
    ),
    TouchpointSpec(
        "Support call",
        "support-call",
        "Customer Support",
        30,
        24,
        (4, 3, 3, 4, 5, 6, 8, 14, 17, 18, 18),
        1.5,
        improving=True,
    ),
    TouchpointSpec(
        "Network coverage",
        "network-coverage",
        "Network",
        25,
        48,
        (6, 5, 6, 7, 8, 9, 10, 13, 13, 12, 11),
        0.8,
    ),
    TouchpointSpec(
        "Store visit", "store-visit", "Retail", 45, 48, (1, 1, 1, 1, 2, 3, 5, 11, 18, 27, 30), 1.0
    ),
    TouchpointSpec(
        "Technician visit",
        "technician-visit",
        "Field Service",
        50,
        48,
        (1, 1, 1, 1, 1, 2, 4, 9, 17, 28, 35),
        0.8,
    ),
]

# What French-speaking customers see on the survey pages and in the survey email.
FRENCH_NAMES = {
    "onboarding": "Ouverture de votre compte",
    "billing": "Facturation",
    "support-call": "Appel au service client",
    "network-coverage": "Couverture réseau",
    "store-visit": "Visite en boutique",
    "technician-visit": "Visite du technicien",
}

# Unhappy customers explain themselves more often than happy ones; about 40 % overall.
COMMENT_RATE = {nps.PROMOTER: 0.38, nps.PASSIVE: 0.30, nps.DETRACTOR: 0.60}
# Share of promoter comments that thank an employee of the touchpoint's team by name.
STAFF_PRAISE_RATE = 0.25

# {staff} is a full name from the touchpoint's own team, so the shout-out reaches
# the lead who can act on it.
STAFF_PRAISE = {
    "onboarding": [
        "{staff} walked me through the whole setup, really patient.",
        "Thanks to {staff} everything was activated the same afternoon.",
        "{staff} called to check my first week went well. Lovely touch.",
    ],
    "billing": [
        "{staff} explained my bill line by line and fixed the error straight away.",
        "{staff} set up the instalments for me without any fuss.",
    ],
    "support-call": [
        "{staff} on the phone was brilliant and sorted everything in five minutes.",
        "{staff} called me back exactly when promised. Impressive.",
        "Ask for {staff}: patient, clear and actually solved my problem.",
    ],
    "network-coverage": [
        "{staff} from the network team called to explain the works and the new mast.",
        "{staff} helped me set up wifi calling, now I have signal everywhere at home.",
    ],
    "store-visit": [
        "{staff} in the shop took the time to move all my photos to the new phone.",
        "{staff} found me a cheaper plan than the one I came in for.",
        "Great advice from {staff}, no pressure to buy.",
    ],
    "technician-visit": [
        "{staff} arrived on time, explained everything and left the place spotless.",
        "{staff} fixed the line in twenty minutes and showed me how to reset the box.",
        "{staff} texted before arriving and was done in no time.",
    ],
}

COMMENTS = {
    "onboarding": {
        nps.PROMOTER: [
            "Signing up took ten minutes, everything worked first time.",
            "The welcome email told me exactly what to do next.",
            "Box arrived the next day and was plug and play.",
            "Switching from my old provider was painless, you handled everything.",
        ],
        nps.PASSIVE: [
            "Fine overall, but activation took three days instead of one.",
            "OK, although I had to enter my details twice.",
            "Good, but the welcome pack could be clearer about the router lights.",
        ],
        nps.DETRACTOR: [
            "A week later my line is still not active.",
            "I was charged before the service even started.",
            "The router never arrived and nobody could tell me where it was.",
            "Three different people gave me three different activation dates.",
        ],
    },
    "billing": {
        nps.PROMOTER: [
            "The new bill is finally easy to read.",
            "Refund arrived within two days, thank you.",
            "Paying in the app is quick and simple.",
        ],
        nps.PASSIVE: [
            "The bill is OK but I still don't understand the extra options line.",
            "Price is a bit high for what I get.",
            "Fine, but the direct debit date changed without notice.",
        ],
        nps.DETRACTOR: [
            "My bill is wrong for the third month in a row.",
            "Prices went up again without any explanation.",
            "I was charged twice and still have not been refunded.",
            "Nobody can explain what the 'service fee' is for.",
            "I cancelled an option in March and I am still paying for it.",
        ],
    },
    "support-call": {
        nps.PROMOTER: [
            "Quick and friendly, exactly what I needed.",
            "The call-back came within the hour, problem solved.",
            "Got through in two minutes and the issue was fixed on the call.",
        ],
        nps.PASSIVE: [
            "Solved in the end, but it took a bit long.",
            "Friendly agent, though I had to repeat my details twice.",
            "OK, but I had to call twice for the same issue.",
        ],
        nps.DETRACTOR: [
            "I waited 40 minutes on hold and then got cut off.",
            "Nobody called me back although I was promised a call.",
            "I had to explain my problem to four different people.",
            "The agent read from a script and did not listen.",
            "The menu kept sending me round in circles.",
        ],
    },
    "network-coverage": {
        nps.PROMOTER: [
            "Signal is excellent everywhere I go, even on the train.",
            "4G in my village at last, thank you!",
            "Never had a dropped call since I joined.",
        ],
        nps.PASSIVE: [
            "Coverage is fine in town, patchy in the countryside.",
            "Good most of the time, slow in the evenings.",
            "OK, but indoors I often lose data.",
        ],
        nps.DETRACTOR: [
            "No signal at home since last week, still nothing fixed.",
            "Calls drop every time I drive to work.",
            "Mobile data is unusable in the evening.",
            "I pay for 5G and never see it.",
        ],
    },
    "store-visit": {
        nps.PROMOTER: [
            "Friendly staff and no queue, in and out in ten minutes.",
            "They set up my new phone before I left the shop.",
            "Helpful, honest advice. I will come back.",
        ],
        nps.PASSIVE: [
            "Helpful, but the queue was long.",
            "Good advice, but the phone I wanted was out of stock.",
            "Fine, the shop was just very busy.",
        ],
        nps.DETRACTOR: [
            "Staff in the shop were not interested in helping.",
            "Waited 45 minutes to be told they could not help me in store.",
            "I was pushed to buy insurance I did not want.",
            "The shop said to call support and support said to go to the shop.",
        ],
    },
    "technician-visit": {
        nps.PROMOTER: [
            "On time, professional and very tidy.",
            "The two-hour window and the text before arrival are great.",
            "Fixed first time, explained what had gone wrong.",
        ],
        nps.PASSIVE: [
            "Job done, but I waited in all morning for a visit in the afternoon.",
            "Fine, though a second visit was needed for a missing part.",
            "Good work, the arrival window was just too wide.",
        ],
        nps.DETRACTOR: [
            "The technician never showed up and nobody warned me.",
            "Took a day off work for a visit that was cancelled at the last minute.",
            "The fault came back two days after the visit.",
            "He left without fixing anything and said someone else would come.",
        ],
    },
}

# Relative number of responses per local hour: daytime and evening, few at night.
HOUR_WEIGHTS = [
    0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.3, 1.3,
    1.4, 1.4, 1.2, 1.1, 1.1, 1.2, 1.4, 1.5, 1.4, 1.0, 0.6, 0.3,
]  # fmt: skip
# Detractors are all known customers, so every demo case has someone to call back;
# other answers come from a known customer this often.
KNOWN_CUSTOMER_RATE = 0.5


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _slug_name(first: str, last: str) -> str:
    return f"{_ascii(first)}.{_ascii(last)}".lower().replace(" ", "").replace("'", "")


# --- the command -------------------------------------------------------------------


class Command(BaseCommand):
    help = "Load demo data (teams, users, touchpoints, responses, cases). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument(
            "--responses",
            type=int,
            default=20000,
            help="how many responses to create (first run only; default 20000)",
        )
        parser.add_argument(
            "--days", type=int, default=180, help="spread responses over this many days"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="load the demo with DEBUG off too (it creates logins such as admin/admin)",
        )

    def handle(self, *args, responses, days, force, **options):
        if not settings.DEBUG and not force:
            # A production database would get a superuser admin/admin and demo staff.
            raise CommandError(
                "DEBUG is off: this looks like a production database, and the demo creates "
                "logins with known passwords (admin/admin). Run it with --force to load it "
                "anyway (a trial or benchmark database)."
            )
        rng = random.Random(SEED)
        with transaction.atomic():
            _seed_org(rng)
            touchpoints = _seed_touchpoints()
        # Demo answers go only into a database that has none: fake responses must
        # never be mixed into a real programme's figures.
        # The detractors' cases commit with their responses: a run that dies in between
        # leaves no detractor without a case.
        with transaction.atomic():
            if Response.objects.exists():
                self.stdout.write("Responses already present: no demo responses added.")
            else:
                created = _seed_responses(rng, touchpoints, total=responses, days=days)
                self.stdout.write(f"Loaded {len(created)} responses over {days} days.")
            cases = feedback_demo.seed_cases(rng=rng)
        if cases:
            self.stdout.write(f"Opened {cases} follow-up cases.")
        postcards = recognition_demo.seed_postcards(rng=rng)
        if postcards:
            self.stdout.write(f"Sent {postcards} Customer Champion postcards.")
        _print_logins(self.stdout)


# --- organisation ------------------------------------------------------------------


def _seed_org(rng: random.Random) -> dict[str, Team]:
    """Groups, teams, the demo logins, and enough staff to fill every team."""
    groups = {
        name: Group.objects.get_or_create(name=name)[0]
        for name in (roles.CX_ADMINS, roles.EXECUTIVES)
    }
    teams = {
        spec.name: Team.objects.get_or_create(name=spec.name, defaults={"slug": spec.slug})[0]
        for spec in TEAMS
    }
    for login in DEMO_LOGINS:
        user, created = User.objects.get_or_create(
            username=login.username,
            defaults={
                "first_name": login.first_name,
                "last_name": login.last_name,
                "email": f"{login.username}@cxhub.example.com",
                "is_staff": login.superuser,
                "is_superuser": login.superuser,
            },
        )
        # Only on creation: a password the user has since changed is theirs.
        if created:
            user.set_password(login.password)
            user.save(update_fields=["password"])
        if login.group:
            user.groups.add(groups[login.group])
        if login.team:
            _join(user, teams[login.team], login.membership)

    names = _staff_names(rng)
    taken = {(first, last) for first, last in User.objects.values_list("first_name", "last_name")}
    usernames = set(User.objects.values_list("username", flat=True))
    for spec in TEAMS:
        team = teams[spec.name]
        for role, wanted in (
            (Membership.Role.LEAD, 1),
            (Membership.Role.MANAGER, spec.managers),
            (Membership.Role.EMPLOYEE, spec.employees),
        ):
            missing = wanted - Membership.objects.filter(team=team, role=role).count()
            for _ in range(missing):
                first, last = next(
                    n for n in names if n not in taken and _slug_name(*n) not in usernames
                )
                taken.add((first, last))
                username = _slug_name(first, last)
                usernames.add(username)
                # No usable password: only the printed demo logins can sign in.
                user = User.objects.create_user(
                    username=username,
                    password=None,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@cxhub.example.com",
                )
                _join(user, team, role)
    return teams


def _staff_names(rng: random.Random):
    """Unique (first, last) pairs in a fixed shuffled order, first names spread out."""
    firsts, lasts = STAFF_FIRST[:], STAFF_LAST[:]
    rng.shuffle(firsts)
    rng.shuffle(lasts)
    # Rotating the surnames each lap keeps every pair distinct while no first name
    # repeats until all have been used.
    for lap in range(len(lasts)):
        for i, first in enumerate(firsts):
            yield first, lasts[(i + lap) % len(lasts)]


def _join(user, team: Team, role: str) -> None:
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
    if role == Membership.Role.LEAD:
        Team.objects.filter(pk=team.pk, lead__isnull=True).update(lead=user)


# --- touchpoints -------------------------------------------------------------------


def _seed_touchpoints() -> list[Touchpoint]:
    teams = {t.name: t for t in Team.objects.filter(name__in=[s.team for s in TOUCHPOINTS])}
    touchpoints = []
    for spec in TOUCHPOINTS:
        translations = {"fr": {"name": FRENCH_NAMES[spec.slug]}}
        touchpoint, created = Touchpoint.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "owner_team": teams[spec.team],
                "nps_target": spec.nps_target,
                "followup_deadline_hours": spec.deadline_hours,
                "translations": translations,
            },
        )
        # A demo database seeded before touchpoints had translations gets them too; an
        # admin's own translations are left alone.
        if not created and not touchpoint.translations:
            touchpoint.translations = translations
            touchpoint.save(update_fields=["translations"])
        touchpoints.append(touchpoint)
    return touchpoints


# --- responses ---------------------------------------------------------------------


class ResponseRow(NamedTuple):
    touchpoint: Touchpoint
    score: int
    comment: str
    channel: str
    at: dt.datetime
    customer: tuple[str, str] | None


def _seed_responses(
    rng: random.Random, touchpoints: list[Touchpoint], *, total: int, days: int
) -> list[Response]:
    """`total` responses over the last `days` days, then their daily rollups."""
    now = timezone.now()
    specs = {s.slug: s for s in TOUCHPOINTS}
    # Touchpoints an admin added before seeding get no demo answers.
    touchpoints = [tp for tp in touchpoints if tp.slug in specs]
    volumes = [specs[tp.slug].volume for tp in touchpoints]
    staff = _frontline_names([tp.owner_team_id for tp in touchpoints])
    rows = []
    for _ in range(total):
        tp = rng.choices(touchpoints, weights=volumes)[0]
        spec = specs[tp.slug]
        at = _moment(rng, now, days)
        score = rng.choices(range(11), weights=_weights(spec, now - at, days))[0]
        category = nps.category(score)
        comment = _comment(rng, tp.slug, category, staff.get(tp.owner_team_id, []))
        known = category == nps.DETRACTOR or rng.random() < KNOWN_CUSTOMER_RATE
        customer = (rng.choice(CUSTOMER_FIRST), rng.choice(CUSTOMER_LAST)) if known else None
        # A web link carries no identity; known customers mostly answer an email.
        channel = (
            Invitation.Channel.EMAIL if known and rng.random() < 0.8 else Invitation.Channel.WEB
        )
        rows.append(ResponseRow(tp, score, comment, channel, at, customer))
    with transaction.atomic():
        created = _create_responses(rows)
        services.rollups_recompute_range(
            start=timezone.localdate(now) - dt.timedelta(days=days + 1),
            end=timezone.localdate(now),
        )
    return created


def _frontline_names(team_ids: list[int]) -> dict[int, list[str]]:
    """Full names of each team's employees and managers: whom customers meet."""
    names: dict[int, list[str]] = {}
    for team_id, first, last in (
        Membership.objects.filter(
            team_id__in=team_ids,
            role__in=[Membership.Role.EMPLOYEE, Membership.Role.MANAGER],
        )
        .order_by("team_id", "user_id")
        .values_list("team_id", "user__first_name", "user__last_name")
    ):
        names.setdefault(team_id, []).append(f"{first} {last}")
    return names


def _moment(rng: random.Random, now: dt.datetime, days: int) -> dt.datetime:
    """A time in the last `days` local days, following the daily rhythm of HOUR_WEIGHTS.

    The draws never depend on the clock, so the same rows (scores, comments,
    customers) come out whenever the command runs; only their dates move with now.
    """
    back = rng.randrange(days)
    hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
    minute, second = rng.randrange(60), rng.randrange(60)
    day = timezone.localdate(now) - dt.timedelta(days=back)
    at = dt.datetime.combine(
        day, dt.time(hour, minute, second), tzinfo=timezone.get_current_timezone()
    )
    # Later today has not happened yet: the moment moves to the oldest day instead,
    # which keeps the days evenly filled.
    if at > now:
        at -= dt.timedelta(days=days)
    return at


def _weights(spec: TouchpointSpec, age: dt.timedelta, days: int) -> tuple[float, ...]:
    if not spec.improving:
        return spec.weights
    # From the spec's mix at the start of the period to about half the detractors
    # and a third more of everyone else today.
    progress = max(0.0, 1 - age / dt.timedelta(days=days))
    return tuple(
        w * (1 - 0.5 * progress) if score <= 6 else w * (1 + 0.35 * progress)
        for score, w in enumerate(spec.weights)
    )


def _comment(rng: random.Random, slug: str, category: str, staff: list[str]) -> str:
    if rng.random() >= COMMENT_RATE[category]:
        return ""
    if category == nps.PROMOTER and staff and rng.random() < STAFF_PRAISE_RATE:
        return rng.choice(STAFF_PRAISE[slug]).format(staff=rng.choice(staff))
    return rng.choice(COMMENTS[slug][category])


def _create_responses(rows: list[ResponseRow]) -> list[Response]:
    """Insert the people and responses of `rows` in bulk; the responses, with pks."""
    people: list[Person | None] = []
    for n, row in enumerate(rows):
        if row.customer is None:
            people.append(None)
            continue
        first, last = row.customer
        people.append(
            Person(
                # n keeps addresses and numbers unique among namesakes.
                email=f"{_slug_name(first, last)}{n}@example.net",
                phone=f"+3361{n:07d}",
                name=f"{first} {last}",
                created_at=row.at,
            )
        )
    Person.objects.bulk_create([p for p in people if p is not None], batch_size=2000)
    return Response.objects.bulk_create(
        [
            Response(
                touchpoint=row.touchpoint,
                person=person,
                score=row.score,
                category=nps.category(row.score),
                comment=row.comment,
                channel=row.channel,
                created_at=row.at,
                updated_at=row.at,
            )
            for row, person in zip(rows, people, strict=True)
        ],
        batch_size=2000,
    )


# --- logins ------------------------------------------------------------------------


def _print_logins(out) -> None:
    out.write(f"\nDemo logins ({settings.SITE_URL}{reverse('login')}):")
    out.write(f"  {'username':<10} {'password':<15} role")
    for login in DEMO_LOGINS:
        out.write(f"  {login.username:<10} {login.password:<15} {login.role}")
