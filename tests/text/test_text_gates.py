"""The text gates: no pupil's full name or other personal data in the words or in the pictures,
and language a person must judge before approving."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image, ImageDraw, ImageFont

from consent.models import Pupil
from moderation.approval import face_review, language_review
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.models import LanguageReview, MediaText
from moderation.publishing import services as publishing
from moderation.text import language, personal_data
from pixels import ocr, photos
from tests.conftest import link_draft

TEXT_DRAFT = {"link": ""}


@pytest.fixture
def register(db):
    Pupil.objects.create(upn="A100000000001", legal_forename="Ava", legal_surname="Smith", year_group="Year 3")
    Pupil.objects.create(upn="A100000000002", legal_forename="Zoë", legal_surname="Brontë", year_group="Year 4")
    Pupil.objects.create(upn="A100000000003", legal_forename="Thomas", preferred_forename="Tom", legal_surname="O'Brien", year_group="Year 6")
    Pupil.objects.create(upn="A100000000004", legal_forename="Ruby", legal_surname="Okoro", year_group="Year 6", on_roll=False)


def found(text, where="text"):
    names = personal_data.Names.from_register()
    return [(f.kind, f.text) for f in personal_data.find(text, where, names)]


# --- Full names --------------------------------------------------------------------------------


def test_a_forename_on_its_own_is_allowed(register):
    assert found("Well done, Ava! A great week for Tom and Zoë.") == []


@pytest.mark.parametrize("text, name", [
    ("Well done Ava Smith!", "Ava Smith"),
    ("AVA SMITH won the spelling bee", "AVA SMITH"),
    ("well done ava smith", "ava smith"),
    ("Certificate for Ava\nSmith", "Ava\nSmith"),
    ("Zoe Bronte read her poem", "Zoe Bronte"),
    ("Zoë Brontë read her poem", "Zoë Brontë"),
    ("Ava Smith's painting won", "Ava Smith's"),
    ("Ava Smith’s painting won", "Ava Smith’s"),
    ("Tom O’Brien scored twice", "Tom O’Brien"),
    ("Thomas O'Brien scored twice", "Thomas O'Brien"),
    ("SMITH, Ava (Year 3)", "SMITH, Ava"),
    ("Ava Grace Smith sang", "Ava Grace Smith"),
    ("Ruby Okoro, who left in July, visited", "Ruby Okoro"),
])
def test_a_pupils_full_name_fails_in_any_form(register, text, name):
    assert found(text) == [("full-name", name)]


def test_the_name_of_a_member_of_staff_is_allowed(register, office):
    assert found("Thank you to Mrs Ava Smith and to Sam Patel for the trip.") == []


def test_a_forename_and_an_unrelated_surname_apart_are_not_a_name(register):
    assert found("Ava met Mr Smith. Ava. Smith Street is closed.") == []


@pytest.fixture
def more_pupils(register):
    Pupil.objects.create(upn="A100000000005", legal_forename="Oliver", legal_surname="Smith", year_group="Year 4")
    Pupil.objects.create(upn="A100000000006", legal_forename="Harry", legal_surname="Kowalski", year_group="Year 4")
    Pupil.objects.create(upn="A100000000007", legal_forename="Lily", legal_surname="Green", year_group="Year 2")
    Pupil.objects.create(upn="A100000000008", legal_forename="Jack", legal_surname="Brown", year_group="Year 2")


@pytest.fixture
def punctuated_pupils(register):
    Pupil.objects.create(upn="A100000000011", legal_forename="Aoife", legal_surname="O'Neill", year_group="Year 5")
    Pupil.objects.create(upn="A100000000012", legal_forename="Ffion", legal_surname="Rhys-Jones", year_group="Year 5")
    Pupil.objects.create(upn="A100000000013", legal_forename="Mary-Kate", legal_surname="Doyle", year_group="Year 5")
    Pupil.objects.create(upn="A100000000014", legal_forename="Richard", legal_surname="Nixon", year_group="Year 5")


@pytest.mark.parametrize("text, name", [
    ("Aoife ONeill read first", "Aoife ONeill"),
    ("Aoife O Neill read first", "Aoife O Neill"),
    ("Ffion Rhys Jones sang", "Ffion Rhys Jones"),
    ("Mary Kate Doyle sang", "Mary Kate Doyle"),
    ("Ava 'Millie' Smith won", "Ava 'Millie' Smith"),
    ("Ava (Millie) Smith won", "Ava (Millie) Smith"),
    ("Smith (Ava) won", "Smith (Ava)"),
    ("Richard M. Nixon visited", "Richard M. Nixon"),
])
def test_a_pupils_name_written_without_its_punctuation_or_with_a_nickname_or_initial_fails(punctuated_pupils, text, name):
    assert found(text) == [("full-name", name)]


@pytest.mark.parametrize("text, name", [
    ("Star of the week: #AvaSmith", "AvaSmith"),
    ("#StarOfTheWeekAvaSmith", "AvaSmith"),
])
def test_a_pupils_name_inside_a_hashtag_fails(register, text, name):
    assert found(text) == [("full-name", name)]


@pytest.mark.parametrize("text, names", [
    ("Well done to Oliver and Ava Smith", ["Oliver … Smith", "Ava Smith"]),
    ("Year 4 superstars: Ava, Oliver and Noah Smith!", ["Ava … Smith", "Oliver … Smith"]),
    ("Harry and Jakub Kowalski", ["Harry … Kowalski"]),
])
def test_forenames_sharing_one_surname_are_each_a_pupils_full_name(more_pupils, text, names):
    assert found(text) == [("full-name", name) for name in names]


@pytest.mark.parametrize("text", [
    "We grew sweet peas, a lily, green beans and onions.",
    "Union Jack, brown and gold bunting for the fair",
])
def test_a_comma_between_two_words_is_not_a_name_unless_written_as_a_register_writes_it(more_pupils, text):
    assert found(text) == []


@pytest.mark.parametrize("text, what", [
    ("Date of birth: 5-May-2021", "Date of birth: 5-May-2021"),
    ("born on 5-MAY-2021", "born on 5-MAY-2021"),
    ("born 21-May", "born 21-May"),
    ("Ava was born in May 2017", "born in May 2017"),
    ("DOB 05/2017", "DOB 05/2017"),
])
def test_a_date_of_birth_in_other_shapes_fails(register, text, what):
    assert found(text) == [("date-of-birth", what)]


def test_a_street_address_written_in_lower_case_fails(register):
    assert found("bring it round to 14 mill lane on friday") == [("address", "14 mill lane")]


@pytest.mark.parametrize("text, kind, what", [
    ("NI number AB 12 34 56 C", "ni-number", "AB 12 34 56 C"),
    ("ni: ab123456c", "ni-number", "ab123456c"),
    ("NHS number 943 476 5919", "nhs-number", "943 476 5919"),  # not also a phone number
    ("UPN A123456789012 on the form", "upn", "A123456789012"),
    ("Pay with 4111 1111 1111 1111", "card-number", "4111 1111 1111 1111"),
])
def test_numbers_a_school_holds_about_a_person_fail_as_what_they_are(register, text, kind, what):
    assert found(text) == [(kind, what)]


def test_an_nhs_shaped_number_whose_check_digit_is_wrong_is_not_an_nhs_number(register):
    assert ("nhs-number", "943 476 5918") not in found("Ref 943 476 5918")


# --- Other personal data ---------------------------------------------------------------------


@pytest.mark.parametrize("text, kind, what", [
    ("Call the office on 01632 960123.", "phone", "01632 960123"),
    ("Mobile: 07911 123456", "phone", "07911 123456"),
    ("From abroad ring +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("Our partner school: +1 202-555-0143", "phone", "+1 202-555-0143"),
    ("Email ava.smith@example.com for tickets", "email", "ava.smith@example.com"),
    ("We are at CT1 2AB", "postcode", "CT1 2AB"),
    ("the party is at sw1a 1aa", "postcode", "sw1a 1aa"),
    ("Drop it at 12 Acacia Avenue please", "address", "12 Acacia Avenue"),
    ("Flat 3, 45a High Street", "address", "45a High Street"),
    ("Ava was born on 3 May 2016", "date-of-birth", "born on 3 May 2016"),
    ("DOB: 03/05/2016", "date-of-birth", "DOB: 03/05/2016"),
    ("her birthday is 4th July", "date-of-birth", "birthday is 4th July"),
])
def test_phone_email_postcode_address_and_date_of_birth_fail(register, text, kind, what):
    assert found(text) == [(kind, what)]


@pytest.mark.parametrize("text", [
    "Year 6 results for 2026: 25/11/2026",
    "Class of 2026 raised £1,200 in room 101",
    "3 lovely days at the park",
    "Sports day is on 4 July at 1.30pm",
    "Ref 2026/1234 and 350 pupils",
])
def test_ordinary_school_news_is_not_personal_data(register, text):
    assert found(text) == []


def test_the_schools_own_address_is_allowed(register, school):
    school.address = "1 School Lane, Aycliffe, CT1 2AB"
    school.save()
    names = personal_data.Names.from_register()
    text = "Come to 1 School Lane, CT1 2AB, or write to 12 Acacia Avenue, CT2 3DE."
    kinds = [(f.kind, f.text) for f in personal_data.find(text, "text", names, school.own_address_parts)]
    assert kinds == [("postcode", "CT2 3DE"), ("address", "12 Acacia Avenue")]


def test_the_school_offices_own_phone_and_email_are_allowed_however_they_are_written(register, school, office, facebook):
    school.phones, school.emails = ["01227 123456"], ["office@aycliffe.kent.sch.uk"]
    school.save()
    text = "Questions? Ring the office on +44 1227 123456 or email Office@Aycliffe.kent.sch.uk, not 07700 900123 or j.smith@gmail.com."
    names = personal_data.Names.from_register()
    kinds = [(f.kind, f.text) for f in personal_data.find(text, "text", names, school.own_contact_details)]
    assert kinds == [("phone", "07700 900123"), ("email", "j.smith@gmail.com")]
    draft = link_draft(office, facebook, text="Questions? Ring the office on 01227 123456 or email office@aycliffe.kent.sch.uk.")
    assert drafting.submit(draft, office).results.get(gate_id="no-personal-data").status == "pass"


# --- Respectful language -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Year 5 loved their trip to Scunthorpe.",
    "Congratulations to the team on the win at Penistone.",
    "Our pantomime this year is Dick Whittington: tickets on sale now!",
    "The Year 6 class completed their assessment today.",
    "We had a lovely sports day, thank you to all parents.",
])
def test_place_names_pantomimes_and_school_words_are_not_flagged(text):
    assert language.flags(text, "text") == []


@pytest.mark.parametrize("text", [
    "This teacher is a useless idiot and should be sacked.",
    "You stupid little shit.",
    "What a fucking brilliant day!",
    "Shut up, nobody likes you, loser.",
    "I will find you and hurt you.",
    "Mr Brown is a thief who stole from the school fund.",
])
def test_threatening_hurtful_profane_or_defamatory_sentences_are_flagged(text):
    [flag] = language.flags(text, "text")
    assert flag.gate == "respectful-language" and flag.kind == "language" and flag.text == text


HATECHECK = Path(__file__).resolve().parents[1] / "data" / "hatecheck" / "test_suite_cases.csv"


def hatecheck(*functionalities):
    with open(HATECHECK, newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["functionality"] in functionalities]


@pytest.mark.parametrize("text", [
    "Gay people are wonderful beings.",
    "We have never had a gay president.",
    "Our Muslim families are invited to the Eid celebration on Friday.",
    "Black History Month: Year 3 researched Mary Seacole.",
    "Trans and non-binary pupils are welcome in every club.",
    "We welcomed refugees and immigrants to our school community this term.",
    "Our disabled athletes won three medals at the para-sports festival.",
    "I'm going to hug a Muslim tomorrow.",
])
def test_a_word_naming_who_someone_is_never_flags_a_sentence(text):
    assert language.flags(text, "text") == []


def test_hatechecks_neutral_and_positive_sentences_pass_for_every_group():
    flagged, total = {}, {}
    for case in hatecheck("ident_neutral_nh", "ident_pos_nh"):
        group = case["target_ident"]
        total[group] = total.get(group, 0) + 1
        flagged[group] = flagged.get(group, 0) + bool(language.flags(case["test_case"].strip(), "text"))
    assert len(total) == 7 and all(flagged[g] / total[g] <= 0.05 for g in total), flagged


def test_hatechecks_hateful_cases_are_caught_at_least_four_times_in_five():
    cases = [c for c in csv.DictReader(open(HATECHECK, newline="", encoding="utf-8")) if c["label_gold"] == "hateful"]
    caught = sum(bool(language.flags(c["test_case"].strip(), "text")) for c in cases)
    assert caught / len(cases) >= 0.8, f"{caught}/{len(cases)}"


@pytest.mark.parametrize("text", [
    "I'll batter that kid if he touches my son again",
    "I really am just going to murder that woman",
    "I want to end his life",
    "Someone should give that teacher a good slap.",
    "Those travellers should be locked up.",
    "I hope you die.",
])
def test_a_direct_threat_is_flagged(text):
    [flag] = language.flags(text, "text")
    assert "threatens harm" in flag.rule


@pytest.mark.parametrize("text", ["The caretaker is a paedo", "That boy in Year 5 is a spaz", "mong", "Muzzie", "paki",
                                  "Her son is a retard."])
def test_a_british_insult_or_slur_is_flagged_even_on_its_own(text):
    [flag] = language.flags(text, "text")
    assert "slur" in flag.rule


@pytest.mark.parametrize("text, word", [
    ("What a f4g.", "fag"),
    ("I'm going to k i l l that ref.", "kill"),
    ("Ihate gays.", "hate"),
    ("I want to klil all of you.", "kill"),
    ("Immigrants are v3rmin.", "vermin"),
])
def test_a_word_in_disguise_is_read_as_the_word(text, word):
    [flag] = language.flags(text, "text")
    assert f"“{word}" in flag.rule


@pytest.mark.parametrize("text", [
    "Well done to Hatem and his friends.",
    "Hatem and his team won the relay.",
    "Our Year 3 star Killa helped everyone.",
])
def test_a_pupils_name_is_never_spelled_into_a_hostile_word(text):
    assert language.flags(text, "text") == []


@pytest.mark.parametrize("text", [
    "The Owl and the Pussy-cat by Edward Lear is Year 2's poem of the week.",
    "Dick King-Smith's The Sheep-Pig is our class book this half term.",
    "In history, Year 4 learned how the Vikings raided Lindisfarne and stole their treasure.",
    "Henry VIII executed two of his six wives.",
    "Year 6 acted out the scene where Macbeth murders King Duncan.",
    "The Great Fire of London burned for four days in 1666.",
])
def test_history_and_literature_are_not_flagged(text):
    assert language.flags(text, "text") == []


@pytest.mark.parametrize("text", [
    "Year 5 will kill it on stage at tonight's talent show!",
    "The football team smashed it in the second half.",
    "We will all meet at the end of the day by the gate.",
    "Year 6 will burn off some energy with the kids from Year 2.",
    "Anti-bullying week: no one deserves to be hurt.",
])
def test_a_figure_of_speech_is_not_a_threat(text):
    assert language.flags(text, "text") == []


@pytest.mark.parametrize("text", [
    "Children should hang their coats on their pegs every morning.",
    "Pupils must put down their pencils when the timer ends.",
    "Each child will need a glass jar for their science experiment.",
    "The children loved seeing the animals at the farm.",
    "If your child has a virus, please keep them at home for 48 hours.",
    "Our coffee morning raised money for people living with cancer.",
    "Bullying has no place in our school and every child deserves to feel safe.",
    "Year 4 made posters about Rosa Parks, who refused to give up her seat.",
    "The children came back filthy from forest school, but so happy!",
    "Please send your child in with a thick coat now it is getting cold.",
    "Our PSHE lesson taught children what to do when they feel angry.",
    "If someone is being unkind or violent, tell an adult you trust.",
    "Year 4 walked along Offa's Dyke.",
    "Congratulations to Greg Dyke, who opened our new library.",
    "Year 5 learned how Genghis Khan and the Mongols built a huge empire.",
    "Garden club: please bring a garden hoe and a trowel on Friday.",
    "Year 6 discussed why we never use 'gay' as an insult.",
])
def test_an_everyday_post_with_a_word_that_can_hurt_is_not_flagged(text):
    assert language.flags(text, "text") == []


@pytest.mark.parametrize("text", [
    "Star of the week goes to Dick for his kindness in the playground.",
    "well done hatem, so proud of you",
    "HATEM WON THE RACE",
    "so proud of our rasheed, killa",
])
def test_a_pupils_name_is_never_what_flags_a_sentence(text):
    assert language.flags(text, "text") == []


@pytest.mark.parametrize("text", [
    "I know where you live, Mr Harris.",
    "Tell that teacher to watch her back.",
    "Keep your lad away from mine or I'll put him in hospital.",
    "If my daughter comes home crying again there will be blood.",
    "I'm going to batter the lot of you.",
    "The head needs a kicking.",
    "Keep giving my kid detentions and see what happens to your car.",
])
def test_a_veiled_threat_is_flagged(text):
    [flag] = language.flags(text, "text")
    assert "threatens harm" in flag.rule


@pytest.mark.parametrize("text", [
    "Those Romanians should go back to where they came from.",
    "Go home to Pakistan where you belong.",
    "Gays shouldn't be allowed anywhere near children.",
])
def test_telling_people_they_do_not_belong_is_flagged(text):
    [flag] = language.flags(text, "text")
    assert "do not belong" in flag.rule


@pytest.mark.parametrize("text", [
    "The teacher is a w@nker.",
    "f.u.c.k this school.",
    "too many p*kis at that school now",
    "what a p r i c k the deputy head is",
])
def test_letters_hidden_behind_symbols_dots_or_spaces_are_read(text):
    assert language.flags(text, "text")


@pytest.mark.parametrize("text", [
    "What a pillock that new head is.",
    "You lot are a bunch of muppets running this school.",
    "Mrs Green is a nasty vindictive witch.",
    "Mr Evans is a total bellend.",
])
def test_a_british_insult_of_someone_is_flagged(text):
    assert language.flags(text, "text")


@pytest.mark.parametrize("text, flagged", [
    ("Mrs Green is a liar and a thief.", True),
    ("Their coach is a bully and a cheat.", True),
    ("The new head is a corrupt fraud.", True),
    ("Someone stole a bike from the rack: please lock yours.", False),
    ("The Romans stole the Celts' land, Year 5 learned.", False),
    ("Mr Patel has been fiddling the books.", True),
    ("That mum who runs the tuck shop is pocketing the money.", True),
    ("If you are worried that a child is being abused or harmed, contact our safeguarding lead.", False),
    ("Mr Smith's class were lying on the field looking at the clouds.", False),
    ("Year 4 with Mrs Ali learned how the Vikings sacked Lindisfarne.", False),
])
def test_an_accusation_is_flagged_only_about_someone_who_can_be_identified(text, flagged):
    assert bool(language.flags(text, "text")) is flagged


def test_the_word_lists_are_configuration(settings):
    assert language.flags("What a wazzock.", "text") == []
    settings.LANGUAGE_SLURS = ("wazzock",)
    [flag] = language.flags("What a wazzock.", "text")
    assert "“wazzock”" in flag.rule
    # A group the school names is recognised as people: what is said of them is checked.
    assert language.flags("Cornish folk are vermin.", "text")
    assert language.flags("Kernowians are vermin.", "text") == []
    settings.LANGUAGE_IDENTITY_WORDS = {"adjectives": (), "plural": ("Kernowians",), "singular": ()}
    assert language.flags("Kernowians are vermin.", "text")


def test_the_allow_list_is_configuration(settings):
    assert language.flags("Pudding today is spotted dick and custard.", "text") == []
    settings.LANGUAGE_ALLOW = ()
    assert len(language.flags("Pudding today is spotted dick and custard.", "text")) == 1


# --- The gates on a draft --------------------------------------------------------------------


def gate(run, gate_id):
    return run.results.get(gate_id=gate_id)


def test_a_full_name_in_the_text_fails_and_says_what_and_where(register, office, facebook):
    draft = link_draft(office, facebook, text="Congratulations to Ava Smith on her certificate!")
    run = drafting.submit(draft, office)
    result = gate(run, "no-personal-data")
    assert result.status == "fail"
    assert "a pupil's full name" in result.message and "“Ava Smith”" in result.message and "(text)" in result.message
    draft.refresh_from_db()
    assert draft.status == "returned"


def test_a_forename_only_post_passes_the_text_gates(register, office, facebook):
    run = drafting.submit(link_draft(office, facebook, text="Well done, Ava! A super week."), office)
    assert gate(run, "no-personal-data").status == "pass"
    assert gate(run, "respectful-language").status == "pass"
    assert run.passed


def test_a_youtube_title_is_checked(register, office, youtube):
    draft = link_draft(office, youtube, link="", text="Our concert", title="Tom O'Brien plays the cello")
    result = gate(drafting.submit(draft, office), "no-personal-data")
    assert result.status == "fail" and "(title)" in result.message


def certificate(name_line="Awarded to Ava Smith") -> bytes:
    image = Image.new("RGB", (1400, 900), "white")
    draw = ImageDraw.Draw(image)
    draw.text((150, 120), "Certificate of Achievement", font=ImageFont.load_default(size=72), fill="black")
    draw.text((250, 400), name_line, font=ImageFont.load_default(size=72), fill="navy")
    draw.text((250, 650), "for excellent reading", font=ImageFont.load_default(size=44), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def add_picture(draft, office, data, name="certificate.png", alt="A reading certificate"):
    return drafting.add_media(draft, office, SimpleUploadedFile(name, data), source="Mrs Patel, school scanner", rights="school", alt_text=alt)


def test_the_words_inside_a_photo_are_read_when_it_is_added(register, office, facebook):
    media = add_picture(link_draft(office, facebook), office, certificate())
    assert media.words_read_at is not None and media.reading_error == ""
    lines = [w.text for w in media.words.all()]
    assert any("Ava Smith" in line for line in lines), lines


def test_a_name_inside_a_photo_fails_until_those_words_are_blurred(register, office, approver, facebook):
    draft = link_draft(office, facebook)
    media = add_picture(draft, office, certificate())
    result = gate(drafting.submit(draft, office), "no-personal-data")
    assert result.status == "fail"
    assert "'certificate.png', in the picture" in result.message and "Ava Smith" in result.message

    draft.refresh_from_db()
    line = next(w for w in media.words.all() if "Ava Smith" in w.text)
    face_review.set_words_blur(line, True, office)
    run = drafting.submit(draft, office)
    assert gate(run, "no-personal-data").status == "pass", gate(run, "no-personal-data").message
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    [copy] = post.media.all()
    published = ocr.read(photos.load_image(copy.path))
    assert not any("Smith" in line.text for line in published), [line.text for line in published]
    assert any("Certificate" in line.text for line in published)


def test_a_name_left_readable_by_a_blur_that_misses_it_is_caught_in_the_published_copy(register, office, facebook):
    draft = link_draft(office, facebook)
    media = add_picture(draft, office, certificate())
    line = next(w for w in media.words.all() if "Ava Smith" in w.text)
    face_review.set_words_blur(line, True, office)
    # The blur covers only "Awarded" (with its margin): the name stays readable in the published pixels.
    MediaText.objects.filter(pk=line.pk).update(right=line.left + (line.right - line.left) * 30 // 100)
    draft.refresh_from_db()
    result = gate(drafting.submit(draft, office), "no-personal-data")
    assert result.status == "fail", result.message
    assert "readable in its published copy (after blurs)" in result.message and "Ava Smith" in result.message


def test_personal_data_in_a_photos_description_fails(register, office, facebook):
    draft = link_draft(office, facebook)
    add_picture(draft, office, certificate("Reading award"), alt="Zoë Brontë with her award")
    result = gate(drafting.submit(draft, office), "no-personal-data")
    assert result.status == "fail" and "the description of 'certificate.png'" in result.message


def test_a_photo_whose_words_cannot_be_read_fails_closed_and_says_why(register, office, facebook, monkeypatch):
    def broken(image):
        raise RuntimeError("the OCR model could not be loaded")

    monkeypatch.setattr(ocr, "read", broken)
    draft = link_draft(office, facebook)
    media = add_picture(draft, office, certificate())
    assert media.words_read_at is None and "could not be loaded" in media.reading_error
    result = gate(drafting.submit(draft, office), "no-personal-data")
    assert result.status == "fail" and "could not be read" in result.message


# --- Judging flagged language ------------------------------------------------------------------


@pytest.fixture
def flagged(office, facebook):
    draft = link_draft(office, facebook, text="Our pantomime is Dick Whittington. The rat in the school play was my son!")
    run = drafting.submit(draft, office)
    assert gate(run, "respectful-language").status == "waiting"
    draft.refresh_from_db()
    assert draft.status == "awaiting_approval"
    return draft


def test_a_flagged_draft_cannot_be_approved_until_each_flag_is_judged(flagged, approver):
    with pytest.raises(ValidationError, match="respectful-language"):
        approving.approve(flagged, approver, dict(ATTESTATIONS))


def test_a_false_alarm_is_confirmed_in_words_and_then_the_draft_can_be_approved(flagged, approver):
    [(flag, _)] = language_review.flags_with_reviews(flagged)
    with pytest.raises(ValidationError, match="in words"):
        language_review.review(flagged, approver, where=flag.where, sentence=flag.text, verdict="false-alarm", reason="fine")
    language_review.review(flagged, approver, where=flag.where, sentence=flag.text, verdict="false-alarm",
                           reason="The rat is a part in the play")
    approving.approve(flagged, approver, dict(ATTESTATIONS))
    flagged.refresh_from_db()
    assert flagged.status == "approved"
    assert flagged.audit_entries.filter(action="language.reviewed").exists()


def test_a_draft_judged_abusive_cannot_be_approved(flagged, approver):
    [(flag, _)] = language_review.flags_with_reviews(flagged)
    language_review.review(flagged, approver, where=flag.where, sentence=flag.text, verdict="abusive")
    with pytest.raises(ValidationError, match="judged abusive"):
        approving.approve(flagged, approver, dict(ATTESTATIONS))
    assert LanguageReview.objects.get().verdict == "abusive"


def test_the_author_cannot_judge_their_own_flags(flagged, office):
    [(flag, _)] = language_review.flags_with_reviews(flagged)
    with pytest.raises(PermissionDenied):
        language_review.review(flagged, office, where=flag.where, sentence=flag.text, verdict="false-alarm",
                               reason="it is only theatre slang")


def test_the_reviewer_judges_flags_on_the_draft_page(flagged, approver, client):
    client.force_login(approver)
    page = client.get(f"/drafts/{flagged.pk}/").content.decode()
    assert "Words for a person to judge" in page and "The rat in the school play" in page
    [(flag, _)] = language_review.flags_with_reviews(flagged)
    client.post(f"/drafts/{flagged.pk}/language/", {
        "where": flag.where, "sentence": flag.text, "verdict": "false-alarm", "reason": "the rat is a part in the play",
    })
    assert LanguageReview.objects.get().reason == "the rat is a part in the play"


# --- check_text ----------------------------------------------------------------------------------


def check_text(*args, stdin=None, monkeypatch=None):
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        call_command("check_text", *args, stdout=out)
        code = 0
    except SystemExit as stop:
        code = stop.code
    return code, out.getvalue()


def test_check_text_passes_with_exit_0_and_the_exact_json_shape(register):
    code, out = check_text("--json", "Well done, Ava! Lovely sports day.")
    assert code == 0 and out.count("\n") <= 1
    assert json.loads(out) == {"verdict": "pass", "findings": []}


def test_check_text_fails_on_personal_data_with_each_finding(register):
    code, out = check_text("--json", "--channel", "youtube", "--title", "Ava Smith sings", "Call 07911 123456")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "fail"
    assert report["findings"] == [
        {"gate": "no-personal-data", "kind": "phone", "text": "07911 123456", "where": "text"},
        {"gate": "no-personal-data", "kind": "full-name", "text": "Ava Smith", "where": "title"},
    ]


def test_check_text_asks_for_review_when_only_language_is_flagged(register):
    code, out = check_text("--json", "You stupid little shit.")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "review"
    assert report["findings"] == [{"gate": "respectful-language", "kind": "language", "text": "You stupid little shit.", "where": "text"}]


def test_check_text_reads_standard_input_for_a_dash(register, monkeypatch):
    code, out = check_text("--json", "-", stdin="Email ava@example.com\n", monkeypatch=monkeypatch)
    assert code == 1 and json.loads(out)["findings"][0]["kind"] == "email"


def test_check_text_usage_errors_exit_2(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    for args in (["--channel", "twitter", "hello"], [], ["--bogus", "hello"]):
        result = subprocess.run(
            [sys.executable, "manage.py", "check_text", *args], cwd=django_settings.BASE_DIR, env=env,
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""


def letter_photo() -> bytes:
    """A photo of a letter home, slightly turned, with the office's number in it."""
    image = Image.new("RGB", (1600, 1200), (210, 200, 180))
    page = Image.new("RGB", (1000, 1000), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(["Dear parents and carers,", "The trip to the farm is on Friday.", "Questions? Ring 01632 960123.", "Mrs Patel, School Office"]):
        draw.text((60, 80 + i * 110), line, font=ImageFont.load_default(size=48), fill="black")
    image.paste(page.rotate(3, expand=True, fillcolor=(210, 200, 180)), (280, 80))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_phone_number_in_a_photo_of_a_letter_is_found_by_ocr(register, office, facebook):
    draft = link_draft(office, facebook)
    add_picture(draft, office, letter_photo(), name="letter.jpg", alt="Our letter about the farm trip")
    result = gate(drafting.submit(draft, office), "no-personal-data")
    assert result.status == "fail"
    assert "a phone number" in result.message and "01632 960123" in result.message and "'letter.jpg', in the picture" in result.message


# --- Bad input ---------------------------------------------------------------------------------


def test_an_empty_post_has_nothing_to_find(register):
    assert found("") == [] and found("   \n ") == []
    assert language.flags("", "text") == []
    code, out = check_text("--json", "")
    assert code == 0 and json.loads(out) == {"verdict": "pass", "findings": []}


def test_a_post_of_60000_characters_is_checked_whole(register):
    text = ("Year 4 enjoyed a wonderful trip to the seaside and built sandcastles. " * 1000)[:59_990] + " Ava Smith"
    assert len(text) == 60_000
    assert found(text) == [("full-name", "Ava Smith")]
    assert language.flags(text, "text") == []


def test_right_to_left_scripts_and_emoji_give_clear_results(register):
    text = "مرحبا بالعائلات 👋 שלום לכולם 🎉 Well done Ava Smith 🏆! 🤝"
    assert found(text) == [("full-name", "Ava Smith")]
    assert language.flags(text, "text") == []
    code, out = check_text("--json", "مرحبا بالعائلات 👋 שלום 🎉")
    assert code == 0 and json.loads(out)["verdict"] == "pass"


def test_a_published_photo_posts_page_still_shows_after_its_upload_is_deleted(register, office, approver, facebook, client):
    draft = link_draft(office, facebook, text="Our reading award winners.")
    add_picture(draft, office, certificate("Reading award"), alt="A reading certificate")
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    publishing.publish(draft, approver)
    assert not draft.media.get().path.exists()  # the original is deleted once published
    client.force_login(office)
    response = client.get(f"/drafts/{draft.pk}/")
    assert response.status_code == 200 and "Published" in response.content.decode()
