"""`manage.py seed_demo`: a believable company to click through. Idempotent.

Teams with leads, managers and employees; a user per role with a printed password;
six touchpoints with their own score distributions; about 20,000 responses over 180
days with realistic comments (some naming employees); their daily rollups; a
follow-up case for every detractor, in every state; Customer Champion postcards and
customer shout-outs.
"""

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from cxhub import roles
from cxhub.models import Membership, Team
from feedback import demo as feedback_demo
from recognition import demo as recognition_demo
from surveys import nps, services
from surveys.models import Person, Response, Touchpoint

User = get_user_model()

FIRST = [
    "Sarah",
    "Lucas",
    "Amina",
    "Tom",
    "Julie",
    "Karim",
    "Emma",
    "Hugo",
    "Chloé",
    "Nina",
    "Marc",
    "Léa",
    "Omar",
    "Inès",
    "Paul",
    "Zoé",
    "Yann",
    "Alice",
    "Samir",
    "Claire",
]
LAST = [
    "Lopez",
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Garcia",
    "Roux",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
]

# (name, slug, team, NPS target, deadline hours, score weights 0..10, trend per 30 days)
TOUCHPOINTS = [
    ("Onboarding", "onboarding", "Onboarding", 40, 48, [1, 1, 1, 2, 2, 4, 6, 12, 18, 25, 28], 0),
    ("Billing", "billing", "Billing", 20, 24, [5, 4, 5, 6, 7, 9, 10, 14, 14, 13, 13], 0),
    (
        "Support call",
        "support-call",
        "Customer Support",
        30,
        24,
        [4, 3, 3, 4, 5, 6, 8, 14, 17, 18, 18],
        1,
    ),
    (
        "Network coverage",
        "network-coverage",
        "Network",
        10,
        72,
        [6, 5, 6, 7, 8, 9, 10, 13, 13, 12, 11],
        0,
    ),
    ("Store visit", "store-visit", "Retail", 45, 48, [1, 1, 1, 1, 2, 3, 5, 11, 18, 27, 30], 0),
    (
        "Technician visit",
        "technician-visit",
        "Field Service",
        50,
        48,
        [1, 1, 1, 1, 1, 2, 4, 9, 17, 28, 35],
        0,
    ),
]

TEAMS = ["Onboarding", "Billing", "Customer Support", "Network", "Retail", "Field Service"]

# username, password, role shown, first, last, team, membership role, groups, staff
DEMO_USERS = [
    ("admin", "admin", "CX admin", "Ada", "Admin", None, None, [roles.CX_ADMINS], True),
    ("exec", "demo-exec", "Executive", "Eva", "Exec", None, None, [roles.EXECUTIVES], False),
    (
        "lead",
        "demo-lead",
        "Team lead, Customer Support",
        "Louis",
        "Leclerc",
        "Customer Support",
        "lead",
        [],
        False,
    ),
    (
        "manager",
        "demo-manager",
        "Manager, Customer Support",
        "Sarah",
        "Lopez",
        "Customer Support",
        "manager",
        [],
        False,
    ),
    (
        "manager2",
        "demo-manager2",
        "Manager, Billing",
        "Karim",
        "Bernard",
        "Billing",
        "manager",
        [],
        False,
    ),
    (
        "employee",
        "demo-employee",
        "Employee, Network",
        "Emma",
        "Moreau",
        "Network",
        "employee",
        [],
        False,
    ),
]

COMMENTS = {
    "promoter": [
        "Quick and friendly, exactly what I needed.",
        "{staff} on the phone was brilliant and sorted everything in five minutes.",
        "Everything worked first time. Thank you!",
        "Great service, I already recommended you to my sister.",
        "{staff} explained every step, very patient.",
        "Fast, clear and polite. Nothing to add.",
        "The app made it so easy.",
    ],
    "passive": [
        "Fine overall, but it took a bit long.",
        "OK. The price could be lower.",
        "Good, although I had to repeat my details twice.",
        "Not bad, the website is a bit confusing.",
    ],
    "detractor": [
        "I waited 40 minutes on hold and then got cut off.",
        "My bill is wrong for the third month in a row.",
        "Nobody called me back although I was promised a call.",
        "No signal at home since last week, still nothing fixed.",
        "The technician never showed up and nobody warned me.",
        "Prices went up again without any explanation.",
        "Staff in the shop were not interested in helping.",
        "I had to explain my problem to four different people.",
    ],
}


class Command(BaseCommand):
    help = "Load demo data (teams, users, touchpoints, responses, cases). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument(
            "--responses", type=int, default=20000, help="how many responses (first run only)"
        )
        parser.add_argument("--days", type=int, default=180)

    def handle(self, *args, responses, days, **options):
        rng = random.Random(42)
        with transaction.atomic():
            staff = self._seed_org(rng)
            touchpoints = self._seed_touchpoints()
        if Response.objects.exists():
            self.stdout.write("Demo responses already loaded: nothing to add.")
        else:
            created = self._seed_responses(rng, touchpoints, staff, responses, days)
            self.stdout.write(f"Loaded {created} responses over {days} days.")
        cases = feedback_demo.seed_cases(rng=rng)
        if cases:
            self.stdout.write(f"Opened {cases} follow-up cases.")
        postcards = recognition_demo.seed_postcards(rng=rng)
        if postcards:
            self.stdout.write(f"Sent {postcards} Customer Champion postcards.")
        self._print_logins()

    def _seed_org(self, rng) -> list:
        groups = {
            name: Group.objects.get_or_create(name=name)[0]
            for name in (roles.CX_ADMINS, roles.EXECUTIVES)
        }
        teams = {
            name: Team.objects.get_or_create(
                name=name, defaults={"slug": name.lower().replace(" ", "-")}
            )[0]
            for name in TEAMS
        }
        for username, password, _, first, last, team, role, group_names, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@cxhub.example.com",
                    "is_staff": staff,
                    "is_superuser": staff,
                },
            )
            if created:
                user.set_password(password)
                user.save()
            for name in group_names:
                user.groups.add(groups[name])
            if team:
                Membership.objects.get_or_create(
                    user=user, team=teams[team], defaults={"role": role}
                )
                if role == "lead":
                    Team.objects.filter(pk=teams[team].pk, lead__isnull=True).update(lead=user)
        # Walk first and last names in step (7 is coprime with 16), so colleagues do not
        # all share a surname; the pairs only repeat after 320.
        names = iter(
            [
                (FIRST[i % len(FIRST)], LAST[(7 * i + i // len(FIRST)) % len(LAST)])
                for i in range(320)
            ]
        )
        staff_users = []
        for team in teams.values():
            wanted = [("lead", 1), ("manager", 2), ("employee", 4)]
            for role, count in wanted:
                existing = list(User.objects.filter(memberships__team=team, memberships__role=role))
                for _ in range(count - len(existing)):
                    first, last = next(names)
                    while User.objects.filter(first_name=first, last_name=last).exists():
                        first, last = next(names)
                    username = f"{first}.{last}".lower().replace("é", "e").replace("è", "e")
                    user = User.objects.create_user(
                        username=username,
                        password=None,
                        first_name=first,
                        last_name=last,
                        email=f"{username}@cxhub.example.com",
                    )
                    Membership.objects.create(user=user, team=team, role=role)
                    if role == "lead":
                        Team.objects.filter(pk=team.pk, lead__isnull=True).update(lead=user)
                    existing.append(user)
                staff_users += existing
        return staff_users

    def _seed_touchpoints(self) -> list:
        result = []
        for name, slug, team, target, hours, *_ in TOUCHPOINTS:
            tp, _ = Touchpoint.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "owner_team": Team.objects.get(name=team),
                    "nps_target": target,
                    "followup_deadline_hours": hours,
                },
            )
            result.append(tp)
        return result

    def _seed_responses(self, rng, touchpoints, staff, total, days) -> int:
        now = timezone.now()
        spec = {t[1]: t for t in TOUCHPOINTS}
        weights_by_tp = [spec[tp.slug][5] for tp in touchpoints]
        improving = [spec[tp.slug][6] for tp in touchpoints]
        share = [1.6, 1.3, 1.5, 0.8, 1.0, 0.8]
        people = []
        rows = []
        for i in range(total):
            k = rng.choices(range(len(touchpoints)), weights=share[: len(touchpoints)])[0]
            tp = touchpoints[k]
            at = now - dt.timedelta(seconds=rng.randrange(0, days * 86400))
            weights = list(weights_by_tp[k])
            if improving[k]:
                # The call-back promise (a demo improvement action) shows in the trend.
                months_ago = (now - at).days / 30
                shift = max(0.0, 6 - months_ago) * improving[k]
                weights = [
                    w * (1 - 0.08 * shift) if s <= 6 else w * (1 + 0.08 * shift)
                    for s, w in enumerate(weights)
                ]
            score = rng.choices(range(11), weights=weights)[0]
            category = nps.category(score)
            comment = ""
            if rng.random() < 0.4:
                comment = rng.choice(COMMENTS[category])
                if "{staff}" in comment:
                    member = rng.choice(staff)
                    comment = comment.format(staff=member.get_full_name())
            person = None
            # Detractors are known customers here, so every demo case has someone to call.
            if category == "detractor" or rng.random() < 0.5:
                first, last = rng.choice(FIRST), rng.choice(LAST)
                person = Person(
                    email=f"{first}.{last}{i}@example.net".lower(),
                    name=f"{first} {last}",
                    phone=f"+3361{i:07d}",
                    created_at=at,
                )
                people.append(person)
            rows.append(
                (tp, person, score, category, comment, rng.choice(["email", "email", "web"]), at)
            )
        with transaction.atomic():
            Person.objects.bulk_create(people, batch_size=2000)
            Response.objects.bulk_create(
                [
                    Response(
                        touchpoint=tp,
                        person=person,
                        score=score,
                        category=category,
                        comment=comment,
                        channel=channel,
                        created_at=at,
                        updated_at=at,
                    )
                    for tp, person, score, category, comment, channel, at in rows
                ],
                batch_size=2000,
            )
            services.rollups_recompute_range(
                start=timezone.localdate(now) - dt.timedelta(days=days + 1),
                end=timezone.localdate(now),
            )
        return len(rows)

    def _print_logins(self):
        self.stdout.write("\nDemo logins (http://127.0.0.1:8000/login/):")
        self.stdout.write(f"  {'username':<10} {'password':<15} role")
        for username, password, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {password:<15} {role}")
