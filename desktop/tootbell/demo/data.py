"""The cast and the texts of the demo instance: who sends notifications and what they say.

The personas cover the awkward cases a renderer meets: a custom emoji shortcode in a display
name, markup that must be escaped, a right-to-left name, an empty display name, a bot.
"""

from __future__ import annotations

from dataclasses import dataclass

LOCAL_USER = "demo"


@dataclass(frozen=True)
class Persona:
    """An account on (or known to) the demo instance."""

    username: str
    display_name: str
    domain: str | None = None  # None: local to the demo instance
    bot: bool = False
    note: str = ""
    emojis: tuple[str, ...] = ()  # custom emoji shortcodes used in the display name

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


PERSONAS: tuple[Persona, ...] = (
    Persona(LOCAL_USER, "Demo User", note="The account Tootbell signs in to in demo mode."),
    Persona("ana", "Ana Souza", note="Gardener, tinkerer, occasional poet."),
    Persona("ben", "Ben Okafor 🚲", "bikes.example", note="Cargo bikes and open data."),
    Persona(
        "chloe",
        "Chloé :blobcat:",
        "art.example",
        note="Illustrator. Cats, mostly.",
        emojis=("blobcat",),
    ),
    Persona("newsbot", "Daily Fedi News", "news.example", bot=True, note="Automated headlines."),
    Persona("markup", "<b>markup</b> & stuff", note="My name is not HTML, honest."),
    Persona("yasmin", "ياسمين", "souk.example", note="مرحبا"),
    Persona("nodisplay", "", "quiet.example", note=""),
    Persona("mod", "Moderation Team", note="Staff account of this instance."),
)

# Extra accounts for bursts ("Ana and 12 others favourited your post").
FAN_NAMES: tuple[str, ...] = (
    "alex",
    "bo",
    "cam",
    "dee",
    "eli",
    "fran",
    "gus",
    "hana",
    "ivo",
    "jun",
    "kai",
    "lea",
    "max",
    "noa",
    "omar",
    "pia",
    "quin",
    "rui",
    "sol",
    "tam",
)
FAN_DOMAIN = "fans.example"

# The people whose posts create ordinary notifications in the generated stream.
SENDERS: tuple[str, ...] = ("ana", "ben", "chloe", "newsbot", "markup", "yasmin", "nodisplay")

OWN_POSTS: tuple[str, ...] = (
    "Finally planted the tomatoes. Fingers crossed for the weather this week.",
    "New release of my garden planner is out! Changelog: https://example.org/changelog",
    "What is everyone reading this month? I just started a long novel about lighthouses.",
    "Hot take: tray icons are underrated.",
    "Made bread again. It is flat again. #baking",
)

MENTIONS: tuple[str, ...] = (
    "Did you see the new bike lanes downtown?",
    "Thanks for the tip yesterday, it worked!",
    "Are you coming to the meetup on Thursday? 🌱",
    "Here is the link I promised: https://example.org/article?id=42&ref=fedi",
    'I <3 this & that, but "quotes" and <tags> should stay text.',
    "A rather long message that goes on and on, because some people write whole essays in a "
    "reply and the notification has to shorten it gracefully without cutting a word in the "
    "middle or losing the point, which is: lunch at noon?",
)

DIRECT_MESSAGES: tuple[str, ...] = (
    "Psst, can you send me the slides privately?",
    "Happy birthday! 🎂 (just between us)",
)

STATUSES: tuple[str, ...] = (
    "Just published a new illustration :blobcat:",
    "Breaking: local cat refuses to leave the keyboard.",
    "Photo dump from today's ride.",
)

POLL_OPTIONS: tuple[str, ...] = ("Tea", "Coffee", "Neither")

FILTERED_TEXTS: tuple[tuple[str, str], ...] = (
    # (text, keyword that a filter matches)
    ("The finale of the series reveals who the spoilers were about all along", "finale"),
    ("Crypto giveaway!!! Send 1 coin, get 2 back", "giveaway"),
)

REPORT_COMMENTS: tuple[str, ...] = (
    "This account posts spam links in replies.",
    "Harassment in my mentions, please have a look.",
)

SEVERED_DOMAINS: tuple[str, ...] = ("bad.example", "spam.example")

UNKNOWN_TYPES: tuple[str, ...] = ("annual_report", "added_to_collection")
