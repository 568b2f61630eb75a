"""Customisable emails: shipped defaults, lookup by language, and sandboxed rendering.

Templates live in the database (``EmailTemplate``) so Admin can edit them; the defaults below
are written there on start-up and used whenever a language has no row. Rendering happens in
Jinja's sandbox (``template_sandbox.LimitedSandbox``): a template cannot reach Python internals
(``__class__``, ``__globals__``, ...), change lists or dicts, produce more than a megabyte or
render for more than two seconds. The HTML body is autoescaped, so a relation called
``<script>`` is shown, not run; the subject is collapsed to one line, so a name with a newline
cannot add a mail header.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from renewal_reminder.models import EmailTemplate
from renewal_reminder.renewals.template_sandbox import LimitedSandbox, limits, render_limited

DEFAULT_LANGUAGE = "en"
RENEWAL_REMINDER = "renewal_reminder"
SALES_DECISIONS = "sales_decisions"
CONFIRMATION_REQUEST = "confirmation_request"
SALES_DIGEST = "sales_digest"
ESCALATION_ALERT = "escalation_alert"
RECEIPT_DECISIONS = "receipt_decisions"
RECEIPT_RENEWED = "receipt_renewed"
RECEIPT_REMOVED = "receipt_removed"
CUSTOMER_LINK = "customer_link"


class TemplateProblem(ValueError):
    """A template does not compile or render; the message says where and why."""


@dataclass(frozen=True)
class TemplateSource:
    subject: str
    text_body: str
    html_body: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_REMINDER_TEXT_EN = """\
Dear Customer,

{% if expires_today %}Last call: domainnames below expire TODAY. \
{% endif %}This is an automated renewal notification to remind you of expiring domainnames. \
{% if deletes %}Domainnames that are neither renewed nor declined will be deleted on the \
date shown with each one.{% else %}Domainnames that are neither renewed nor declined are not \
renewed: they stop working after the expiry date shown with each one.{% endif %}

To renew/decline domainnames open your personal renewal page (no password needed, so please \
do not forward this email):
{{ renewal_link }}

{% for group in groups -%}
The following domainname(s) {{ group.phrase }}:
{% for domain in group.domains %}- {{ domain.name }}{% if domain.client %} \
({{ domain.client }}){% endif %}: expires {{ domain.expiry_date }}\
{% if domain.deletion_date %}, deleted on {{ domain.deletion_date }} unless renewed{% endif %}
{% endfor %}
{% endfor %}
{% if sales_contact %}Questions? Contact {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
This is an automated notification.{% if sales_contact %} Replies reach \
{{ sales_contact.name }}.{% endif %}
Relation #{{ relation.number }} : {{ relation.name }} Email : {{ relation.email }}
"""

_REMINDER_HTML_EN = """\
<p>Dear Customer,</p>
{% if expires_today %}<p><strong>Last call: domainnames below expire today.</strong></p>
{% endif %}<p>This is an automated renewal notification to remind you of expiring
domainnames. {% if deletes %}Domainnames that are neither renewed nor declined will be deleted
on the date shown with each one.{% else %}Domainnames that are neither renewed nor declined
are not renewed: they stop working after the expiry date shown with each one.{% endif %}</p>
<p>To renew/decline domainnames open <a href="{{ renewal_link }}">your personal renewal
page</a> (no password needed, so please do not forward this email).</p>
{% for group in groups %}
<p>The following domainname(s) {{ group.phrase }}:</p>
<ul>{% for domain in group.domains %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}: expires
  {{ domain.expiry_date }}{% if domain.deletion_date %}, deleted on {{ domain.deletion_date }}
  unless renewed{% endif %}</li>{% endfor %}
</ul>
{% endfor %}
{% if sales_contact %}<p>Questions? Contact {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>This is an automated notification.{% if sales_contact %} Replies reach \
{{ sales_contact.name }}.{% endif %}<br>
Relation #{{ relation.number }} : {{ relation.name }} Email : {{ relation.email }}</small></p>
"""

_REMINDER_TEXT_NL = """\
Beste klant,

{% if expires_today %}Laatste kans: onderstaande domeinnamen verlopen VANDAAG. \
{% endif %}Dit is een automatische melding om u te herinneren aan domeinnamen die binnenkort \
verlopen. {% if deletes %}Domeinnamen die niet worden verlengd of opgezegd, worden verwijderd \
op de datum die bij elke naam staat.{% else %}Domeinnamen die niet worden verlengd of \
opgezegd, worden niet verlengd: ze werken niet meer na de vervaldatum die bij elke naam \
staat.{% endif %}

Om domeinnamen te verlengen of op te zeggen opent u uw persoonlijke verlengingspagina \
(zonder wachtwoord; stuur deze e-mail daarom niet door):
{{ renewal_link }}

{% for group in groups -%}
De volgende domeinnaam/-namen {{ group.phrase }}:
{% for domain in group.domains %}- {{ domain.name }}{% if domain.client %} \
({{ domain.client }}){% endif %}: verloopt {{ domain.expiry_date }}\
{% if domain.deletion_date %}, wordt verwijderd op {{ domain.deletion_date }} tenzij verlengd\
{% endif %}
{% endfor %}
{% endfor %}
{% if sales_contact %}Vragen? Neem contact op met {{ sales_contact.name }} \
<{{ sales_contact.email }}>.
{% endif %}
Dit is een automatische melding.{% if sales_contact %} Antwoorden komen \
bij {{ sales_contact.name }}.{% endif %}
Relatie #{{ relation.number }} : {{ relation.name }} E-mail : {{ relation.email }}
"""

_REMINDER_HTML_NL = """\
<p>Beste klant,</p>
{% if expires_today %}<p><strong>Laatste kans: onderstaande domeinnamen verlopen
vandaag.</strong></p>
{% endif %}<p>Dit is een automatische melding om u te herinneren aan domeinnamen die
binnenkort verlopen. {% if deletes %}Domeinnamen die niet worden verlengd of opgezegd, worden
verwijderd op de datum die bij elke naam staat.{% else %}Domeinnamen die niet worden verlengd
of opgezegd, worden niet verlengd: ze werken niet meer na de vervaldatum die bij elke naam
staat.{% endif %}</p>
<p>Om domeinnamen te verlengen of op te zeggen opent u
<a href="{{ renewal_link }}">uw persoonlijke verlengingspagina</a> (zonder wachtwoord; stuur
deze e-mail daarom niet door).</p>
{% for group in groups %}
<p>De volgende domeinnaam/-namen {{ group.phrase }}:</p>
<ul>{% for domain in group.domains %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}: verloopt
  {{ domain.expiry_date }}{% if domain.deletion_date %}, wordt verwijderd op
  {{ domain.deletion_date }} tenzij verlengd{% endif %}</li>{% endfor %}
</ul>
{% endfor %}
{% if sales_contact %}<p>Vragen? Neem contact op met {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Dit is een automatische melding.{% if sales_contact %} Antwoorden komen \
bij {{ sales_contact.name }}.{% endif %}<br>
Relatie #{{ relation.number }} : {{ relation.name }} E-mail : {{ relation.email }}</small></p>
"""

_SALES_DECISIONS_TEXT = """\
Hello {{ sales_contact.name }},

{{ decided_by }} recorded renewal decisions for relation #{{ relation.number }} \
{{ relation.name }} on the {{ channel }}.
{% if renew %}
To renew:
{% for domain in renew %}  {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} - {{ domain.years }} \
year{{ "s" if domain.years != 1 }}, expires {{ domain.expiry_date }}
{% endfor %}{% endif %}{% if decline %}
To decline (not renew):
{% for domain in decline %}  {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} - expires {{ domain.expiry_date }}
{% endfor %}{% endif %}
Process them in the renewal queue:
{{ queue_url }}
"""

_SALES_DECISIONS_HTML = """\
<p>Hello {{ sales_contact.name }},</p>
<p>{{ decided_by }} recorded renewal decisions for relation #{{ relation.number }}
{{ relation.name }} on the {{ channel }}.</p>
{% if renew %}<p>To renew:</p>
<ul>{% for domain in renew %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}:
  {{ domain.years }} year{{ "s" if domain.years != 1 }}, expires {{ domain.expiry_date }}</li>
{% endfor %}</ul>{% endif %}
{% if decline %}<p>To decline (not renew):</p>
<ul>{% for domain in decline %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}:
  expires {{ domain.expiry_date }}</li>
{% endfor %}</ul>{% endif %}
<p><a href="{{ queue_url }}">Process them in the renewal queue</a></p>
"""

_CONFIRM_TEXT_EN = """\
Dear Customer,

Please confirm whether you want to renew the domain name {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %}, which expires on \
{{ domain.expiry_date }}.

Your activation code: {{ code }}

Open {{ confirm_link }}
or go to {{ confirm_url }} and enter the code. You can then renew the domain name for 1 to \
10 years, or decline the renewal. The code works once, until {{ valid_until }}.

All your domain names at once, no password needed: your personal renewal page
{{ renewal_link }}
{% if sales_contact %}
Questions? Contact {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Relation #{{ relation.number }} : {{ relation.name }}
"""

_CONFIRM_HTML_EN = """\
<p>Dear Customer,</p>
<p>Please confirm whether you want to renew the domain name <strong>{{ domain.name }}</strong>
{% if domain.client %}({{ domain.client }}){% endif %}, which expires on
{{ domain.expiry_date }}.</p>
<p>Your activation code: <strong style="font-size:1.3em;letter-spacing:.1em">{{ code }}</strong></p>
<p><a href="{{ confirm_link }}">Confirm or decline the renewal</a>, or go to
{{ confirm_url }} and enter the code. You can renew the domain name for up to 10 years from
today, or decline the renewal. The code works once, until {{ valid_until }}.</p>
<p>All your domain names at once, no password needed:
<a href="{{ renewal_link }}">your personal renewal page</a>.</p>
{% if sales_contact %}<p>Questions? Contact {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Relation #{{ relation.number }} : {{ relation.name }}</small></p>
"""

_CONFIRM_TEXT_NL = """\
Beste klant,

Wilt u bevestigen of u de domeinnaam {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} wilt verlengen? Deze verloopt op \
{{ domain.expiry_date }}.

Uw activeringscode: {{ code }}

Open {{ confirm_link }}
of ga naar {{ confirm_url }} en vul de code in. U kunt de domeinnaam dan tot 10 jaar \
vanaf vandaag verlengen, of de verlenging weigeren. De code werkt één keer, tot {{ valid_until }}.

Al uw domeinnamen tegelijk, zonder wachtwoord: uw persoonlijke verlengingspagina
{{ renewal_link }}
{% if sales_contact %}
Vragen? Neem contact op met {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Relatie #{{ relation.number }} : {{ relation.name }}
"""

_CONFIRM_HTML_NL = """\
<p>Beste klant,</p>
<p>Wilt u bevestigen of u de domeinnaam <strong>{{ domain.name }}</strong>
{% if domain.client %}({{ domain.client }}){% endif %} wilt verlengen? Deze verloopt op
{{ domain.expiry_date }}.</p>
<p>Uw activeringscode: <strong style="font-size:1.3em;letter-spacing:.1em">{{ code }}</strong></p>
<p><a href="{{ confirm_link }}">Verlenging bevestigen of weigeren</a>, of ga naar
{{ confirm_url }} en vul de code in. U kunt de domeinnaam tot 10 jaar vanaf vandaag verlengen, of de
verlenging weigeren. De code werkt één keer, tot {{ valid_until }}.</p>
<p>Al uw domeinnamen tegelijk, zonder wachtwoord:
<a href="{{ renewal_link }}">uw persoonlijke verlengingspagina</a>.</p>
{% if sales_contact %}<p>Vragen? Neem contact op met {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Relatie #{{ relation.number }} : {{ relation.name }}</small></p>
"""

_SALES_DIGEST_TEXT = """\
Hello {{ sales_contact.name }},

Your renewal digest of {{ today }}.
{% if due %}
Confirmed renewals due now: overdue or due today ({{ due_count }}):
{% for item in due %}  {{ item.expiry_date }}  {{ item.name }} - \
{% if item.overdue %}OVERDUE{% else %}due today{% endif %} (due by {{ item.due_by }}), \
days left {{ item.days_left }} ({{ item.when }}) - \
renew {{ item.years }} year{{ "s" if item.years != 1 }} - \
#{{ item.relation.number }} {{ item.relation.name }}{% if item.failed %}
    FAILED after {{ item.attempts }} attempt{{ "s" if item.attempts != 1 }}: \
{{ item.message }}{% endif %}
{% endfor %}{% if due_more %}  ... and {{ due_more }} more
{% endif %}Carry them out in the renewal queue: {{ queue_url }}
{% endif %}{% if expiring %}
Expiring within {{ horizon_days }} days without a decision ({{ expiring_count }}):
{% for domain in expiring %}  {{ domain.expiry_date }}  {{ domain.name }} ({{ domain.when }}) - \
#{{ domain.relation.number }} {{ domain.relation.name }}
{% endfor %}{% if expiring_more %}  ... and {{ expiring_more }} more
{% endif %}Expiration list: {{ expirations_url }}
{% endif %}{% if queue %}
Waiting in your renewal queue ({{ queue_count }}):
{% for item in queue %}  {{ item.decided_at }}  {{ item.name }} - \
{% if item.decision == "renew" %}renew {{ item.years }} year{{ "s" if item.years != 1 }}\
{% else %}decline{% endif %} - #{{ item.relation.number }} {{ item.relation.name }}, \
by {{ item.decided_by }}{% if item.failed %}
    FAILED{% if item.attempts %} (attempt {{ item.attempts }}){% endif %}: \
{{ item.message }}{% endif %}
{% endfor %}{% if queue_more %}  ... and {{ queue_more }} more
{% endif %}Renewal queue: {{ queue_url }}
{% endif %}{% if automated %}
What the automated job did since {{ since }} ({{ automated_count }}):
{% for action in automated %}  {{ action.at }}  {{ action.name }} - {{ action.action }}\
{% if action.message %}: {{ action.message }}{% endif %} - \
#{{ action.relation.number }} {{ action.relation.name }}
{% endfor %}{% if automated_more %}  ... and {{ automated_more }} more
{% endif %}{% endif %}{% if registry %}
Differences at the registry to check ({{ registry_count }}):
{% for item in registry %}  {{ item.at }}  {{ item.name }} - {{ item.detail }} - \
#{{ item.relation.number }} {{ item.relation.name }}
{% endfor %}{% if registry_more %}  ... and {{ registry_more }} more
{% endif %}{% endif %}
This email is sent once a day, only when there is something to report.
"""

_SALES_DIGEST_HTML = """\
<p>Hello {{ sales_contact.name }},</p>
<p>Your renewal digest of {{ today }}.</p>
{% if due %}
<h3 style="color:#b00">Confirmed renewals due now: overdue or due today ({{ due_count }})</h3>
<ul>{% for item in due %}
  <li>{{ item.expiry_date }} <strong>{{ item.name }}</strong>:
  {% if item.overdue %}<strong style="color:#b00">overdue</strong>{% else %}due today{% endif %}
  (due by {{ item.due_by }}), days left {{ item.days_left }} ({{ item.when }}),
  renew {{ item.years }} year{{ "s" if item.years != 1 }},
  #{{ item.relation.number }} {{ item.relation.name }}{% if item.failed %}<br>
  <strong style="color:#b00">Failed after {{ item.attempts }}
  attempt{{ "s" if item.attempts != 1 }}:</strong> {{ item.message }}{% endif %}</li>{% endfor %}
{% if due_more %}  <li>... and {{ due_more }} more</li>{% endif %}
</ul>
<p><a href="{{ queue_url }}">Carry them out in the renewal queue</a></p>
{% endif %}
{% if expiring %}
<h3>Expiring within {{ horizon_days }} days without a decision ({{ expiring_count }})</h3>
<ul>{% for domain in expiring %}
  <li>{{ domain.expiry_date }} <strong>{{ domain.name }}</strong> ({{ domain.when }}):
  #{{ domain.relation.number }} {{ domain.relation.name }}</li>{% endfor %}
{% if expiring_more %}  <li>... and {{ expiring_more }} more</li>{% endif %}
</ul>
<p><a href="{{ expirations_url }}">Open the expiration list</a></p>
{% endif %}
{% if queue %}
<h3>Waiting in your renewal queue ({{ queue_count }})</h3>
<ul>{% for item in queue %}
  <li>{{ item.decided_at }} <strong>{{ item.name }}</strong>:
  {% if item.decision == "renew" %}renew {{ item.years }} year{{ "s" if item.years != 1 }}\
{% else %}decline{% endif %}, #{{ item.relation.number }} {{ item.relation.name }},
  by {{ item.decided_by }}{% if item.failed %}<br>
  <strong style="color:#b00">Failed{% if item.attempts %} (attempt {{ item.attempts }})\
{% endif %}:</strong> {{ item.message }}{% endif %}</li>{% endfor %}
{% if queue_more %}  <li>... and {{ queue_more }} more</li>{% endif %}
</ul>
<p><a href="{{ queue_url }}">Open the renewal queue</a></p>
{% endif %}
{% if automated %}
<h3>What the automated job did since {{ since }} ({{ automated_count }})</h3>
<ul>{% for action in automated %}
  <li>{{ action.at }} <strong>{{ action.name }}</strong>: {{ action.action }}\
{% if action.message %} ({{ action.message }}){% endif %},
  #{{ action.relation.number }} {{ action.relation.name }}</li>{% endfor %}
{% if automated_more %}  <li>... and {{ automated_more }} more</li>{% endif %}
</ul>
{% endif %}
{% if registry %}
<h3>Differences at the registry to check ({{ registry_count }})</h3>
<ul>{% for item in registry %}
  <li>{{ item.at }} <strong>{{ item.name }}</strong>: {{ item.detail }},
  #{{ item.relation.number }} {{ item.relation.name }}</li>{% endfor %}
{% if registry_more %}  <li>... and {{ registry_more }} more</li>{% endif %}
</ul>
{% endif %}
<p><small>This email is sent once a day, only when there is something to report.</small></p>
"""

_ESCALATION_TEXT = """\
Hello{% if recipient_name %} {{ recipient_name }}{% endif %},

{% if level == "escalation" -%}
These confirmed renewals have reached their expiry date and have still not been carried out:
{%- elif no_sales_contact -%}
These confirmed renewals are due and their relation has no sales contact, so they come to you:
{%- else -%}
These confirmed renewals were due to be carried out by today ({{ lead_days }} days before \
expiry) and are still waiting:
{%- endif %}
{% for item in alerts %}
  {{ item.name }} - renew {{ item.years }} year{{ "s" if item.years != 1 }} - expires \
{{ item.expiry_date }} ({{ item.when }}), due by {{ item.due_by }} - \
#{{ item.relation.number }} {{ item.relation.name }}\
{% if item.sales_contact %}, sales contact {{ item.sales_contact.name }} \
<{{ item.sales_contact.email }}>{% endif %}{% if item.failed %}
    FAILED ({{ item.attempts }} attempt{{ "s" if item.attempts != 1 }}): {{ item.message }}\
{% endif %}
{% endfor %}
Carry them out in the renewal queue:
{{ queue_url }}
"""

_ESCALATION_HTML = """\
<p>Hello{% if recipient_name %} {{ recipient_name }}{% endif %},</p>
<p>{% if level == "escalation" %}These confirmed renewals have reached their expiry date and
have still not been carried out:{% elif no_sales_contact %}These confirmed renewals are due and
their relation has no sales contact, so they come to you:{% else %}These confirmed renewals
were due to be carried out by today ({{ lead_days }} days before expiry) and are still
waiting:{% endif %}</p>
<ul>{% for item in alerts %}
  <li><strong>{{ item.name }}</strong>: renew {{ item.years }}
  year{{ "s" if item.years != 1 }}, expires {{ item.expiry_date }} ({{ item.when }}), due by
  {{ item.due_by }}; #{{ item.relation.number }} {{ item.relation.name }}\
{% if item.sales_contact %}, sales contact {{ item.sales_contact.name }}
  &lt;{{ item.sales_contact.email }}&gt;{% endif %}{% if item.failed %}<br>
  <strong style="color:#b00">Failed ({{ item.attempts }}
  attempt{{ "s" if item.attempts != 1 }}):</strong> {{ item.message }}{% endif %}</li>{% endfor %}
</ul>
<p><a href="{{ queue_url }}">Carry them out in the renewal queue</a></p>
"""

_RECEIPT_DECISIONS_TEXT_EN = """\
Dear Customer,

We have recorded your renewal decisions for relation #{{ relation.number }} \
{{ relation.name }}.
{% if renew %}
To be renewed:
{% for domain in renew %}  {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} - {{ domain.years }} \
year{{ "s" if domain.years != 1 }}, expires {{ domain.expiry_date }}
{% endfor %}
What happens next: we renew these domain names before they expire. You will receive an \
email once each renewal has been carried out.
{% endif %}{% if decline %}
Not to be renewed:
{% for domain in decline %}  {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} - expires {{ domain.expiry_date }}
{% endfor %}
What happens next: these domain names are not renewed. They stop working when they expire \
and are then deactivated or deleted; you will receive an email when that happens.
{% endif %}
Changed your mind? Until a decision has been carried out you can change it on your personal
renewal page (no password needed, so please do not forward this email):
{{ renewal_link }}
{% if sales_contact %}
Questions? Contact {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
This is an automated notification.{% if sales_contact %} Replies reach \
{{ sales_contact.name }}.{% endif %}
"""

_RECEIPT_DECISIONS_HTML_EN = """\
<p>Dear Customer,</p>
<p>We have recorded your renewal decisions for relation #{{ relation.number }}
{{ relation.name }}.</p>
{% if renew %}<p>To be renewed:</p>
<ul>{% for domain in renew %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}:
  {{ domain.years }} year{{ "s" if domain.years != 1 }}, expires {{ domain.expiry_date }}</li>
{% endfor %}</ul>
<p>What happens next: we renew these domain names before they expire. You will receive an
email once each renewal has been carried out.</p>{% endif %}
{% if decline %}<p>Not to be renewed:</p>
<ul>{% for domain in decline %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}:
  expires {{ domain.expiry_date }}</li>
{% endfor %}</ul>
<p>What happens next: these domain names are not renewed. They stop working when they expire
and are then deactivated or deleted; you will receive an email when that happens.</p>{% endif %}
<p>Changed your mind? Until a decision has been carried out you can change it on
<a href="{{ renewal_link }}">your personal renewal page</a> (no password needed, so please do
not forward this email).</p>
{% if sales_contact %}<p>Questions? Contact {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>This is an automated notification.{% if sales_contact %} Replies reach \
{{ sales_contact.name }}.{% endif %}</small></p>
"""

_RECEIPT_DECISIONS_TEXT_NL = """\
Beste klant,

Wij hebben uw verlengingsbesluiten voor relatie #{{ relation.number }} {{ relation.name }} \
vastgelegd.
{% if renew %}
Te verlengen:
{% for domain in renew %}  {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} - {{ domain.years }} jaar, \
verloopt {{ domain.expiry_date }}
{% endfor %}
Wat er nu gebeurt: wij verlengen deze domeinnamen voordat ze verlopen. U ontvangt een e-mail \
zodra elke verlenging is uitgevoerd.
{% endif %}{% if decline %}
Niet te verlengen:
{% for domain in decline %}  {{ domain.name }}\
{% if domain.client %} ({{ domain.client }}){% endif %} - verloopt {{ domain.expiry_date }}
{% endfor %}
Wat er nu gebeurt: deze domeinnamen worden niet verlengd. Ze werken niet meer zodra ze \
verlopen en worden dan gedeactiveerd of verwijderd; u ontvangt een e-mail wanneer dat gebeurt.
{% endif %}
Toch anders besloten? Zolang een besluit nog niet is uitgevoerd, kunt u het wijzigen op uw
persoonlijke verlengingspagina (zonder wachtwoord; stuur deze e-mail daarom niet door):
{{ renewal_link }}
{% if sales_contact %}
Vragen? Neem contact op met {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Dit is een automatische melding.{% if sales_contact %} Antwoorden komen \
bij {{ sales_contact.name }}.{% endif %}
"""

_RECEIPT_DECISIONS_HTML_NL = """\
<p>Beste klant,</p>
<p>Wij hebben uw verlengingsbesluiten voor relatie #{{ relation.number }} {{ relation.name }}
vastgelegd.</p>
{% if renew %}<p>Te verlengen:</p>
<ul>{% for domain in renew %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}:
  {{ domain.years }} jaar, verloopt {{ domain.expiry_date }}</li>
{% endfor %}</ul>
<p>Wat er nu gebeurt: wij verlengen deze domeinnamen voordat ze verlopen. U ontvangt een
e-mail zodra elke verlenging is uitgevoerd.</p>{% endif %}
{% if decline %}<p>Niet te verlengen:</p>
<ul>{% for domain in decline %}
  <li>{{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}:
  verloopt {{ domain.expiry_date }}</li>
{% endfor %}</ul>
<p>Wat er nu gebeurt: deze domeinnamen worden niet verlengd. Ze werken niet meer zodra ze
verlopen en worden dan gedeactiveerd of verwijderd; u ontvangt een e-mail wanneer dat
gebeurt.</p>{% endif %}
<p>Toch anders besloten? Zolang een besluit nog niet is uitgevoerd, kunt u het wijzigen op
<a href="{{ renewal_link }}">uw persoonlijke verlengingspagina</a> (zonder wachtwoord; stuur
deze e-mail daarom niet door).</p>
{% if sales_contact %}<p>Vragen? Neem contact op met {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Dit is een automatische melding.{% if sales_contact %} Antwoorden komen \
bij {{ sales_contact.name }}.{% endif %}</small></p>
"""

_RECEIPT_RENEWED_TEXT_EN = """\
Dear Customer,

The domain name {{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %} has \
been renewed for {{ domain.years }} year{{ "s" if domain.years != 1 }}: it is now \
renewed until {{ domain.new_expiry_date }}.

Your renewal page, no password needed: {{ renewal_link }}
{% if sales_contact %}
Questions? Contact {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Relation #{{ relation.number }} : {{ relation.name }}
"""

_RECEIPT_RENEWED_HTML_EN = """\
<p>Dear Customer,</p>
<p>The domain name <strong>{{ domain.name }}</strong>{% if domain.client %}
({{ domain.client }}){% endif %} has been renewed for {{ domain.years }}
year{{ "s" if domain.years != 1 }}: it is now renewed until
<strong>{{ domain.new_expiry_date }}</strong>.</p>
<p><a href="{{ renewal_link }}">Your renewal page</a>, no password needed.</p>
{% if sales_contact %}<p>Questions? Contact {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Relation #{{ relation.number }} : {{ relation.name }}</small></p>
"""

_RECEIPT_RENEWED_TEXT_NL = """\
Beste klant,

De domeinnaam {{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %} is \
verlengd met {{ domain.years }} jaar: hij is nu verlengd tot {{ domain.new_expiry_date }}.

Uw verlengingspagina, zonder wachtwoord: {{ renewal_link }}
{% if sales_contact %}
Vragen? Neem contact op met {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Relatie #{{ relation.number }} : {{ relation.name }}
"""

_RECEIPT_RENEWED_HTML_NL = """\
<p>Beste klant,</p>
<p>De domeinnaam <strong>{{ domain.name }}</strong>{% if domain.client %}
({{ domain.client }}){% endif %} is verlengd met {{ domain.years }} jaar: hij is nu verlengd
tot <strong>{{ domain.new_expiry_date }}</strong>.</p>
<p><a href="{{ renewal_link }}">Uw verlengingspagina</a>, zonder wachtwoord.</p>
{% if sales_contact %}<p>Vragen? Neem contact op met {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Relatie #{{ relation.number }} : {{ relation.name }}</small></p>
"""

_RECEIPT_REMOVED_TEXT_EN = """\
Dear Customer,

The domain name {{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}, \
which expired on {{ domain.expiry_date }}, has been \
{% if action == "deleted" %}deleted at the registrar. It no longer works and can be \
registered by others.{% else %}deactivated at the registrar. It no longer works.{% endif %}

Your renewal page, no password needed: {{ renewal_link }}
{% if sales_contact %}
Questions? Contact {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Relation #{{ relation.number }} : {{ relation.name }}
"""

_RECEIPT_REMOVED_HTML_EN = """\
<p>Dear Customer,</p>
<p>The domain name <strong>{{ domain.name }}</strong>{% if domain.client %}
({{ domain.client }}){% endif %}, which expired on {{ domain.expiry_date }}, has been
{% if action == "deleted" %}deleted at the registrar. It no longer works and can be registered
by others.{% else %}deactivated at the registrar. It no longer works.{% endif %}</p>
<p><a href="{{ renewal_link }}">Your renewal page</a>, no password needed.</p>
{% if sales_contact %}<p>Questions? Contact {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Relation #{{ relation.number }} : {{ relation.name }}</small></p>
"""

_RECEIPT_REMOVED_TEXT_NL = """\
Beste klant,

De domeinnaam {{ domain.name }}{% if domain.client %} ({{ domain.client }}){% endif %}, die \
verliep op {{ domain.expiry_date }}, is \
{% if action == "deleted" %}verwijderd bij de registrar. Hij werkt niet meer en kan door \
anderen worden geregistreerd.{% else %}gedeactiveerd bij de registrar. Hij werkt niet \
meer.{% endif %}

Uw verlengingspagina, zonder wachtwoord: {{ renewal_link }}
{% if sales_contact %}
Vragen? Neem contact op met {{ sales_contact.name }} <{{ sales_contact.email }}>.
{% endif %}
Relatie #{{ relation.number }} : {{ relation.name }}
"""

_RECEIPT_REMOVED_HTML_NL = """\
<p>Beste klant,</p>
<p>De domeinnaam <strong>{{ domain.name }}</strong>{% if domain.client %}
({{ domain.client }}){% endif %}, die verliep op {{ domain.expiry_date }}, is
{% if action == "deleted" %}verwijderd bij de registrar. Hij werkt niet meer en kan door
anderen worden geregistreerd.{% else %}gedeactiveerd bij de registrar. Hij werkt niet
meer.{% endif %}</p>
<p><a href="{{ renewal_link }}">Uw verlengingspagina</a>, zonder wachtwoord.</p>
{% if sales_contact %}<p>Vragen? Neem contact op met {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.</p>{% endif %}
<p><small>Relatie #{{ relation.number }} : {{ relation.name }}</small></p>
"""

_CUSTOMER_LINK_TEXT_EN = """\
Dear Customer,

Here is a new link to the renewal page of relation #{{ relation.number }} {{ relation.name }}. \
Open it to renew or decline your domain names, no password needed:
{{ renewal_link }}

The link works for {{ valid_days }} days. It is personal: please do not forward this email. \
If you did not ask for it, you can ignore this email.
"""

_CUSTOMER_LINK_HTML_EN = """\
<p>Dear Customer,</p>
<p>Here is a new link to the renewal page of relation #{{ relation.number }}
{{ relation.name }}. Open it to renew or decline your domain names, no password needed:</p>
<p><a href="{{ renewal_link }}">Open your renewal page</a></p>
<p>The link works for {{ valid_days }} days. It is personal: please do not forward this email.
If you did not ask for it, you can ignore this email.</p>
"""

_CUSTOMER_LINK_TEXT_NL = """\
Beste klant,

Hier is een nieuwe link naar de verlengingspagina van relatie #{{ relation.number }} \
{{ relation.name }}. Open hem om uw domeinnamen te verlengen of op te zeggen, zonder \
wachtwoord:
{{ renewal_link }}

De link werkt {{ valid_days }} dagen. Hij is persoonlijk: stuur deze e-mail niet door. Hebt \
u er niet om gevraagd, dan kunt u deze e-mail negeren.
"""

_CUSTOMER_LINK_HTML_NL = """\
<p>Beste klant,</p>
<p>Hier is een nieuwe link naar de verlengingspagina van relatie #{{ relation.number }}
{{ relation.name }}. Open hem om uw domeinnamen te verlengen of op te zeggen, zonder
wachtwoord:</p>
<p><a href="{{ renewal_link }}">Open uw verlengingspagina</a></p>
<p>De link werkt {{ valid_days }} dagen. Hij is persoonlijk: stuur deze e-mail niet door. Hebt
u er niet om gevraagd, dan kunt u deze e-mail negeren.</p>
"""

DEFAULTS: dict[tuple[str, str], TemplateSource] = {
    (RENEWAL_REMINDER, "en"): TemplateSource(
        "{% if expires_today %}Expires today{% if deletes %}, then deleted{% endif %}: "
        "{{ domain_count }} domainname(s){% else %}Renewal reminder: {{ domain_count }} "
        "domainname(s) expiring{% endif %} - relation #{{ relation.number }}",
        _REMINDER_TEXT_EN,
        _REMINDER_HTML_EN,
    ),
    (RENEWAL_REMINDER, "nl"): TemplateSource(
        "{% if expires_today %}Verloopt vandaag{% if deletes %}, daarna verwijderd{% endif %}: "
        "{{ domain_count }} domeinnaam/-namen{% else %}Verlengingsherinnering: "
        "{{ domain_count }} domeinnaam/-namen verlopen{% endif %} - relatie "
        "#{{ relation.number }}",
        _REMINDER_TEXT_NL,
        _REMINDER_HTML_NL,
    ),
    (CONFIRMATION_REQUEST, "en"): TemplateSource(
        "Please confirm the renewal of {{ domain.name }}", _CONFIRM_TEXT_EN, _CONFIRM_HTML_EN
    ),
    (CONFIRMATION_REQUEST, "nl"): TemplateSource(
        "Bevestig de verlenging van {{ domain.name }}", _CONFIRM_TEXT_NL, _CONFIRM_HTML_NL
    ),
    (SALES_DECISIONS, "en"): TemplateSource(
        "Renewal decisions for #{{ relation.number }} {{ relation.name }}: "
        "{{ renew|length }} renew, {{ decline|length }} decline",
        _SALES_DECISIONS_TEXT,
        _SALES_DECISIONS_HTML,
    ),
    (SALES_DIGEST, "en"): TemplateSource(
        "Renewal digest {{ today }}: {% if due_count %}{{ due_count }} renewal(s) due now, "
        "{% endif %}{{ expiring_count }} expiring without a decision, "
        "{{ queue_count }} in your queue, {{ automated_count }} automated action(s)"
        "{% if registry_count %}, {{ registry_count }} difference(s) at the registry{% endif %}",
        _SALES_DIGEST_TEXT,
        _SALES_DIGEST_HTML,
    ),
    (ESCALATION_ALERT, "en"): TemplateSource(
        "{% if level == 'escalation' %}ESCALATION: {{ count }} confirmed renewal(s) reached "
        "their expiry date unexecuted{% else %}Overdue: {{ count }} confirmed renewal(s) to "
        "carry out today{% endif %}",
        _ESCALATION_TEXT,
        _ESCALATION_HTML,
    ),
    (RECEIPT_DECISIONS, "en"): TemplateSource(
        "Your renewal decisions for relation #{{ relation.number }}: "
        "{{ renew|length }} to renew, {{ decline|length }} not to renew",
        _RECEIPT_DECISIONS_TEXT_EN,
        _RECEIPT_DECISIONS_HTML_EN,
    ),
    (RECEIPT_DECISIONS, "nl"): TemplateSource(
        "Uw verlengingsbesluiten voor relatie #{{ relation.number }}: "
        "{{ renew|length }} te verlengen, {{ decline|length }} niet te verlengen",
        _RECEIPT_DECISIONS_TEXT_NL,
        _RECEIPT_DECISIONS_HTML_NL,
    ),
    (RECEIPT_RENEWED, "en"): TemplateSource(
        "{{ domain.name }} renewed until {{ domain.new_expiry_date }}",
        _RECEIPT_RENEWED_TEXT_EN,
        _RECEIPT_RENEWED_HTML_EN,
    ),
    (RECEIPT_RENEWED, "nl"): TemplateSource(
        "{{ domain.name }} verlengd tot {{ domain.new_expiry_date }}",
        _RECEIPT_RENEWED_TEXT_NL,
        _RECEIPT_RENEWED_HTML_NL,
    ),
    (RECEIPT_REMOVED, "en"): TemplateSource(
        "{{ domain.name }} has been {{ action }}",
        _RECEIPT_REMOVED_TEXT_EN,
        _RECEIPT_REMOVED_HTML_EN,
    ),
    (RECEIPT_REMOVED, "nl"): TemplateSource(
        "{{ domain.name }} is {% if action == 'deleted' %}verwijderd{% else %}gedeactiveerd"
        "{% endif %}",
        _RECEIPT_REMOVED_TEXT_NL,
        _RECEIPT_REMOVED_HTML_NL,
    ),
    (CUSTOMER_LINK, "en"): TemplateSource(
        "Your renewal page for relation #{{ relation.number }}",
        _CUSTOMER_LINK_TEXT_EN,
        _CUSTOMER_LINK_HTML_EN,
    ),
    (CUSTOMER_LINK, "nl"): TemplateSource(
        "Uw verlengingspagina voor relatie #{{ relation.number }}",
        _CUSTOMER_LINK_TEXT_NL,
        _CUSTOMER_LINK_HTML_NL,
    ),
}

#: What each template is for, shown on the Admin screen.
PURPOSES = {
    RENEWAL_REMINDER: "Renewal reminder digest (one per recipient per run)",
    SALES_DECISIONS: "To the sales contact: decisions a customer recorded",
    CONFIRMATION_REQUEST: "Renewal confirmation request with an activation code (one domain)",
    SALES_DIGEST: "Daily to each sales contact: expiring undecided domains, queue, job actions",
    ESCALATION_ALERT: "Confirmed renewals unexecuted on their due date (to the sales contact) "
    "or expiry date (to the escalation address)",
    RECEIPT_DECISIONS: "Receipt to the customer: the renewal decisions recorded, and what happens "
    "next (one per submission)",
    RECEIPT_RENEWED: "Receipt to the customer: a domain was renewed (with its new expiry date)",
    RECEIPT_REMOVED: "Receipt to the customer: a domain was deactivated or deleted",
    CUSTOMER_LINK: "To the customer, on request: a fresh personal link to their renewal page "
    "(after an expired or revoked one)",
}


#: Fingerprints (``fingerprint``) of defaults an earlier version shipped and this one replaced.
#: A row that is still exactly one of them was never customised: start-up brings it up to the
#: current default, so an existing installation gets e.g. the personal link (``renewal_link``)
#: in its reminders; a customised row is left alone. When you change a default, add the
#: fingerprint of the version it replaces here.
RETIRED_DEFAULTS: dict[tuple[str, str], frozenset[str]] = {
    # Before the personal link in every customer email (customer_links).
    (RENEWAL_REMINDER, "en"): frozenset(
        {
            "19af919d957a87c424b47e1b54ea1b0851bdd8221dc83e886dac53a10f2ea6d1",
            # Before the footer said where replies go (Reply-To: the sales contact).
            "60401629af4c0aebd64590d61d9ea0f24a1103056c05fa458ec3b62230c28950",
        }
    ),
    (RENEWAL_REMINDER, "nl"): frozenset(
        {
            "521086414a5919a2d8f5e1d2fcedc265ec934018e2bbed7ca090e9219a934f35",
            # Before the footer said where replies go (Reply-To: the sales contact).
            "a522972497b0567894a759bc038b2a60ea7b98c7bf358c3fd1da5eb087b7c32c",
        }
    ),
    (CONFIRMATION_REQUEST, "en"): frozenset(
        {"7629a90ab2ee17f30410a7fada6b7e877eeef2b14cfc9a90c14bde18d4a59646"}
    ),
    (CONFIRMATION_REQUEST, "nl"): frozenset(
        {"f4a563a5a4debb8a67a73781116f5ce58b8f31c874e8dd63cd8540009c2d6322"}
    ),
    (RECEIPT_DECISIONS, "en"): frozenset(
        {
            "2fd99a8bc67008f8feaad22a8d2a36ad4740052f735cd66d56c098b39cc7d37f",
            # Before the footer said where replies go (Reply-To: the sales contact).
            "b0f5c72f01de3b529f413f170d8d4ce57e8818666da0247b94a53fed4ad7fbd0",
        }
    ),
    (RECEIPT_DECISIONS, "nl"): frozenset(
        {
            "d01668b2b1b90821f05ea7875eb4a7cb62aa2f37671a24f3eacec679e90ff5dd",
            # Before the footer said where replies go (Reply-To: the sales contact).
            "201a3d780139356a8db21c34b502f9c5d35bf56be1184635c3c8b3e8c3b07576",
        }
    ),
    (RECEIPT_RENEWED, "en"): frozenset(
        {"269abf4f6e22a4e7d148d6c4f0c16fbe64263edd07cff69368d71cf6f7e46fcc"}
    ),
    (RECEIPT_RENEWED, "nl"): frozenset(
        {"81eff539139554c3c4ccac80f46fd7705b8a6898f69055068a6a0d2932127b04"}
    ),
    (RECEIPT_REMOVED, "en"): frozenset(
        {"9e5c2014f12008316d44209b659658db0cc6e550ecf99feeff00856ae510323a"}
    ),
    (RECEIPT_REMOVED, "nl"): frozenset(
        {"80730575c29a0f7f5c1b20de0639d89e029adb7952ddd6113ad76267f86bdadf"}
    ),
    # Before the registrar sync's "differences at the registry to check" (registry_sync).
    (SALES_DIGEST, "en"): frozenset(
        {"0b795e6db48d988fd7b126551a3d58e9c0281151c87620e709b4c9d0d7047f61"}
    ),
}


def fingerprint(subject: str, text_body: str, html_body: str) -> str:
    """What identifies a template's content exactly (``RETIRED_DEFAULTS``)."""
    content = "\0".join((subject or "", text_body or "", html_body or ""))
    return hashlib.sha256(content.encode()).hexdigest()


def ensure_default_templates(session: Session) -> None:
    """Write the shipped defaults for every (name, language) that has no row yet, and bring
    rows that are still an earlier version's default, untouched, up to the current one
    (``RETIRED_DEFAULTS``)."""
    rows = session.scalars(select(EmailTemplate)).all()  # a few dozen rows
    existing = {(row.name, row.language) for row in rows}
    upgraded = False
    for row in rows:
        retired = RETIRED_DEFAULTS.get((row.name, row.language))
        if retired and fingerprint(row.subject, row.text_body, row.html_body) in retired:
            source = DEFAULTS[(row.name, row.language)]
            row.subject, row.text_body, row.html_body = (
                source.subject,
                source.text_body,
                source.html_body,
            )
            upgraded = True
    missing = [key for key in DEFAULTS if key not in existing]
    for name, language in missing:
        source = DEFAULTS[(name, language)]
        session.add(
            EmailTemplate(
                name=name,
                language=language,
                subject=source.subject,
                text_body=source.text_body,
                html_body=source.html_body,
            )
        )
    if missing or upgraded:
        session.commit()


def template_for(session: Session, name: str, language: str) -> TemplateSource:
    """The template to use: the language's row, else English, else the shipped default."""
    rows = {
        row.language: row
        for row in session.scalars(
            select(EmailTemplate).where(
                EmailTemplate.name == name,
                EmailTemplate.language.in_({language, DEFAULT_LANGUAGE}),
            )
        )
    }
    row = rows.get(language) or rows.get(DEFAULT_LANGUAGE)
    if row is not None:
        return TemplateSource(row.subject, row.text_body, row.html_body)
    return DEFAULTS.get((name, language)) or DEFAULTS[(name, DEFAULT_LANGUAGE)]


class TemplateCache:
    """Templates of one run, looked up once per (name, language) instead of once per email."""

    def __init__(self, session: Session):
        self._session = session
        self._sources: dict[tuple[str, str], TemplateSource] = {}

    def get(self, name: str, language: str) -> TemplateSource:
        key = (name, language)
        if key not in self._sources:
            self._sources[key] = template_for(self._session, name, language)
        return self._sources[key]


_TEXT_ENV = LimitedSandbox(autoescape=False, undefined=StrictUndefined)
_HTML_ENV = LimitedSandbox(autoescape=True, undefined=StrictUndefined)


@functools.lru_cache(maxsize=128)
def _compile(html: bool, source: str):
    return (_HTML_ENV if html else _TEXT_ENV).from_string(source)


def render(source: TemplateSource, context: dict) -> RenderedEmail:
    """Render subject, text and HTML with ``context``; ``TemplateProblem`` if any part fails,
    is too large or takes too long (``template_sandbox``: at most ``MAX_OUTPUT`` characters a
    part, ``TIME_BUDGET`` seconds for all three)."""
    parts = {}
    with limits():
        for part, text, html in (
            ("subject", source.subject, False),
            ("text", source.text_body, False),
            ("html", source.html_body, True),
        ):
            parts[part] = _render_part(part, text, html, context)
    return RenderedEmail(one_line(parts["subject"]), parts["text"], parts["html"])


#: The page around a template's HTML: what mail clients need (the charset, a phone-sized
#: viewport) and the product's look, in inline styles only (many clients drop <style>).
_DOCUMENT = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n</head>\n'
    '<body style="margin:0;padding:16px;background:#ffffff;color:#1f2937;'
    'font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5">\n'
    '<div style="max-width:640px">\n{}\n</div>\n</body>\n</html>\n'
)


def html_document(html: str) -> str:
    """A template's HTML as a whole document; one that already is (an Admin may write the
    whole page) is left as it is."""
    if "<html" in html[:1000].lower():
        return html
    return _DOCUMENT.format(html)


def _render_part(part: str, text: str, html: bool, context: dict) -> str:
    try:
        return render_limited(_compile(html, text), context)
    except TemplateError as exc:
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise TemplateProblem(f"{part}{line}: {exc}") from None
    except Exception as exc:  # e.g. {{ 1 / 0 }}: an admin's template must not crash a run
        raise TemplateProblem(f"{part}: {type(exc).__name__}: {exc}") from None


def one_line(text: str) -> str:
    """Collapse all whitespace, newlines included: nothing can start a new mail header."""
    return " ".join(text.split())


# --- Invitations and password resets (renewals.invitations, renewals.password_resets) ----------
# A block of its own: the customer's way in by password.

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"

_INVITATION_TEXT_EN = """\
Dear Customer,

You are invited to set a password for the renewal pages of relation #{{ relation.number }} \
{{ relation.name }}. There you renew or decline your domain names whenever it suits you.

Set your password here (your login name: {{ login }}):
{{ invitation_link }}

The link works once, for {{ valid_days }} days (until {{ expires_on }}).\
{% if sales_contact %} Questions? Contact {{ sales_contact.name }} <{{ sales_contact.email }}>.\
{% endif %}
If you did not expect this email, you can ignore it.
"""

_INVITATION_HTML_EN = """\
<p>Dear Customer,</p>
<p>You are invited to set a password for the renewal pages of relation #{{ relation.number }}
{{ relation.name }}. There you renew or decline your domain names whenever it suits you.</p>
<p><a href="{{ invitation_link }}">Set your password</a> (your login name: {{ login }})</p>
<p>The link works once, for {{ valid_days }} days (until {{ expires_on }}).
{% if sales_contact %}Questions? Contact {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.{% endif %}</p>
<p>If you did not expect this email, you can ignore it.</p>
"""

_INVITATION_TEXT_NL = """\
Beste klant,

U bent uitgenodigd een wachtwoord in te stellen voor de verlengingspagina's van relatie \
#{{ relation.number }} {{ relation.name }}. Daar verlengt u uw domeinnamen of zegt u ze op \
wanneer het u uitkomt.

Stel hier uw wachtwoord in (uw inlognaam: {{ login }}):
{{ invitation_link }}

De link werkt één keer, {{ valid_days }} dagen lang (tot {{ expires_on }}).\
{% if sales_contact %} Vragen? Neem contact op met {{ sales_contact.name }} \
<{{ sales_contact.email }}>.{% endif %}
Verwachtte u deze e-mail niet, dan kunt u hem negeren.
"""

_INVITATION_HTML_NL = """\
<p>Beste klant,</p>
<p>U bent uitgenodigd een wachtwoord in te stellen voor de verlengingspagina's van relatie
#{{ relation.number }} {{ relation.name }}. Daar verlengt u uw domeinnamen of zegt u ze op
wanneer het u uitkomt.</p>
<p><a href="{{ invitation_link }}">Stel uw wachtwoord in</a> (uw inlognaam: {{ login }})</p>
<p>De link werkt één keer, {{ valid_days }} dagen lang (tot {{ expires_on }}).
{% if sales_contact %}Vragen? Neem contact op met {{ sales_contact.name }}
&lt;{{ sales_contact.email }}&gt;.{% endif %}</p>
<p>Verwachtte u deze e-mail niet, dan kunt u hem negeren.</p>
"""

_PASSWORD_RESET_TEXT_EN = """\
Dear {{ name }},

Someone (probably you) asked to set a new password for the login {{ login }}. Set it here:
{{ reset_link }}

The link works once, for {{ valid_minutes }} minutes. If you did not ask for it, ignore this \
email: your password stays as it is.
"""

_PASSWORD_RESET_HTML_EN = """\
<p>Dear {{ name }},</p>
<p>Someone (probably you) asked to set a new password for the login {{ login }}.</p>
<p><a href="{{ reset_link }}">Set a new password</a></p>
<p>The link works once, for {{ valid_minutes }} minutes. If you did not ask for it, ignore this
email: your password stays as it is.</p>
"""

_PASSWORD_RESET_TEXT_NL = """\
Beste {{ name }},

Iemand (waarschijnlijk u) vroeg een nieuw wachtwoord in te stellen voor de login {{ login }}. \
Dat kan hier:
{{ reset_link }}

De link werkt één keer, {{ valid_minutes }} minuten lang. Hebt u er niet om gevraagd, negeer \
deze e-mail dan: uw wachtwoord blijft zoals het is.
"""

_PASSWORD_RESET_HTML_NL = """\
<p>Beste {{ name }},</p>
<p>Iemand (waarschijnlijk u) vroeg een nieuw wachtwoord in te stellen voor de login
{{ login }}.</p>
<p><a href="{{ reset_link }}">Stel een nieuw wachtwoord in</a></p>
<p>De link werkt één keer, {{ valid_minutes }} minuten lang. Hebt u er niet om gevraagd, negeer
deze e-mail dan: uw wachtwoord blijft zoals het is.</p>
"""

DEFAULTS.update(
    {
        (INVITATION, "en"): TemplateSource(
            "Set your password for the renewal pages of relation #{{ relation.number }}",
            _INVITATION_TEXT_EN,
            _INVITATION_HTML_EN,
        ),
        (INVITATION, "nl"): TemplateSource(
            "Stel uw wachtwoord in voor de verlengingspagina's van relatie #{{ relation.number }}",
            _INVITATION_TEXT_NL,
            _INVITATION_HTML_NL,
        ),
        (PASSWORD_RESET, "en"): TemplateSource(
            "Set a new password for {{ login }}",
            _PASSWORD_RESET_TEXT_EN,
            _PASSWORD_RESET_HTML_EN,
        ),
        (PASSWORD_RESET, "nl"): TemplateSource(
            "Stel een nieuw wachtwoord in voor {{ login }}",
            _PASSWORD_RESET_TEXT_NL,
            _PASSWORD_RESET_HTML_NL,
        ),
    }
)
PURPOSES.update(
    {
        INVITATION: "To a relation's billing address: an invitation to set a password for a "
        "login linked to the relation (single use, 7 days)",
        PASSWORD_RESET: "To a login's address, on request: a link to set a new password "
        "(single use, 1 hour)",
    }
)
