"""Names of people, streets and places for synthetic England, most common first."""

from __future__ import annotations

import re

import numpy as np

# Given names reflect ONS "Baby names in England and Wales" top lists of the last 20 years,
# with names common in England's South Asian, Black, Eastern European, Irish, Welsh and
# Chinese communities; a few carry accents or apostrophes to exercise encoding.
CHILD_FEMALE = """
Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily
Ella Poppy Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice Harper Matilda
Ruby Emilia Maya Millie Isabelle Erin Luna Esme Eliza Lucy Chloe Aria Jessica Ellie Hallie
Imogen Layla Nancy Harriet Thea Zara Holly Scarlett Mila Molly Ada Bonnie Robyn Eva Lola
Hannah Amber Georgia Lottie Maisie Orla Eleanor Violet Mabel Penelope Summer Iris Aisha Fatima
Maryam Zainab Amira Hafsa Inaya Khadija Anaya Aaliyah Hana Safa Ayesha Noor Simran Priya Anika
Jasmine Leah Naomi Abigail Precious Favour Chidera Adaeze Amara Zuri Kemi Nia Tiana Hope
Zuzanna Julia Maja Natalia Oliwia Alexandra Ioana Maria Elena Bianca Ana Niamh Aoife Siobhan
Ciara Saoirse Caitlin Megan Cerys Seren Ffion Carys Mei Lin Xinyi Zoe Zoë Chloé Siân Renée
Bethany Courtney Keeley Tegan Paige Kacey Demi Libby Jade Nevaeh Amelie
"""
CHILD_MALE = """
Noah Muhammad Oliver George Leo Arthur Oscar Theodore Freddie Theo Archie Jack Henry Alfie
Charlie Finley Jacob Lucas Thomas Tommy William Teddy Isaac Joshua Edward Ethan Harry Rory
Albie Reuben Max Elijah James Jude Mohammed Louie Harrison Sebastian Hugo Alexander Toby
Arlo Ezra Jaxon Albert Grayson Frankie Dylan Daniel Reggie Ronnie Joseph Samuel Jenson
Logan Ellis Harvey Riley Mason Hunter Louis Rowan Zachary Austin Kai Elliot Jayden Caleb
Finn Ibrahim Yusuf Ahmed Ali Omar Ayaan Zayn Hamza Rayyan Ismail Musa Adam Aryan Arjun Rohan
Dev Ravi Jai Kabir Harjot Gurpreet David Samuel Emmanuel Daniel Tobi Chidi Kwame Kofi Tyrese
Jermaine Malachi Josiah Nathaniel Jakub Szymon Filip Kacper Antoni Andrei Luca Matei Stefan
Conor Cian Oisin Liam Sean Patrick Dylan Rhys Owen Gethin Iwan Dafydd Jun Wei Hao Kayden
Tyler Brandon Callum Connor Kieran Jordan Bradley Reece Declan José Chinedu Darragh
"""
ADULT_FEMALE = """
Sarah Emma Laura Rebecca Gemma Claire Rachel Nicola Lisa Amy Hannah Kelly Stacey Jennifer
Samantha Victoria Michelle Natalie Donna Joanne Louise Helen Kirsty Katie Charlotte Jessica
Zoe Leanne Danielle Amanda Karen Julie Tracey Susan Jane Catherine Elizabeth Kate Lucy
Sophie Lauren Jade Chloe Ruth Alison Fiona Angela Maria Anna Agnieszka Katarzyna Magdalena
Ioana Elena Fatima Shazia Nadia Ayesha Farah Sana Rukhsana Parveen Samina Salma Nasreen Yasmin
Priya Sunita Harpreet Manjit Kiran Anjali Grace Blessing Chioma Ngozi Abena Adwoa Funmilayo
Marcia Beverley Paulette Sharon Siobhan Aoife Niamh Bronwen Rhian Mei Ling Jing Tamsin
"""
ADULT_MALE = """
David Paul Mark Andrew James Michael Richard Daniel Christopher Matthew Stephen Lee Craig
Darren Gareth Jason Simon Neil Ian Martin Robert John Steven Thomas Adam Ryan Carl Wayne
Scott Dean Liam Jamie Ben Sam Tom Luke Nathan Ashley Shaun Kevin Gary Peter Anthony Jonathan
Piotr Tomasz Marcin Krzysztof Andrei Mihai Bogdan Mohammed Imran Tariq Asif Khalid Zahid
Shahid Kamran Faisal Amir Rajesh Sanjay Vikram Amarjit Sukhdev Ravinder Kwame Kofi Emeka
Chukwuemeka Oluwaseun Babatunde Delroy Winston Errol Leroy Patrick Declan Ciaran Padraig
Dafydd Huw Gethin Rhodri Wei Jian Hao Mustafa Hassan Abdi Yusuf Kemal Mehmet Giorgos Marco
"""
FAMILY = """
Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson
Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner
Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott
Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter
Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson
Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt
Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker
Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson
Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West
Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry
Ryan Grant Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory
Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter
Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates Henderson
Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls
Hamilton Byrne Sutton McDonald Yates Hodgson Robson Curtis Hopkins O'Connor Harper Coleman
Watkins Moss McCarthy Chambers O'Neill Griffin Sharp Hardy Wheeler Potter Osborne Johnston
Gordon Doyle Wallace George Jordan Hutchinson Rahman Miah Uddin Islam Akhtar Iqbal Hussein
Mahmood Malik Chaudhry Aziz Rashid Bibi Mistry Sharma Gupta Kumar Chauhan Sandhu Dhillon
Bains Okafor Adeyemi Okonkwo Adebayo Mensah Boateng Owusu Asante Mohamed Abdi Hassan Farah
Warsame Nowak Kowalski Wisniewski Wojcik Lewandowski Popescu Ionescu Popa Chen Wang Li Zhang
Wong Liu Nguyen Tran Yilmaz Demir Georgiou Christodoulou Rossi Romano Silva Santos Ferreira
D'Souza Fernandes Pereira MacDonald MacLeod O'Sullivan O'Reilly Smith-Jones Taylor-Wood
Lloyd-Davies Ahmed-Khan Brown-Okafor Clarke-Patel Vaughan-Williams Ap-Rhys
"""

STREET_STEMS = """
Mill Church Station Park Victoria Queen's King's Manor Chapel Green School Grange Orchard
Meadow Oak Ash Elm Beech Willow Cedar Holly Rowan Hawthorn Chestnut Birch Maple Sycamore Poplar
Springfield Highfield Westfield Northfield Brookside Riverside Lakeside Hillside Woodside
Fairview Mount Pleasant Albert Alexandra Windsor York Lancaster Cambridge Oxford Stanley
Nelson Wellington Milton Shakespeare Byron Tennyson Wordsworth Dickens Brunel Telford Darwin
Coronation Jubilee Regent Balmoral Sandringham Clarence Cavendish Devonshire Grosvenor
Warwick Denmark Trafalgar Waterloo Commercial Market Bridge Ferry Canal Wharf Quarry Forge
Kiln Tannery Weavers Bakers Smithy Vicarage Rectory Priory Abbey Castle Tower Beacon Heath
Moor Common Fell Brook Ford Bank Croft Fold Garth Ings Carr Lea Dale Vale Combe Cliff
"""
STREET_KINDS = (
    "Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Gardens", "Place",
    "Grove", "Terrace", "Court", "Walk", "Rise", "View", "Mews", "Row", "Square", "Hill",
)
BUILDINGS = """
Rosewood Oakwood Ashdown Beaumont Carlton Clifton Cromwell Hanover Kingsley Linden Marlborough
Norfolk Portland Regency Sovereign Stirling Trinity Westbury Whitehall Wyndham Haven Harbour
Foxglove Heron Kestrel Mallard Osprey Swift Lark Wren Falcon Merlin
"""
BUILDING_KINDS = ("House", "Court", "Point", "Lodge", "Heights", "Mansions")

# Place-like stems for schools, surgeries, hubs and charities.
PLACE_STEMS = """
Oakfield Hillside Meadowbank Brookfield Fairfield Greenacres Highfield Riverside Woodlands
Westfield Eastwood Northgate Southbrook Parkside Lakeside Ashgrove Beechwood Cedars Elmhurst
Hawthorn Hollybush Ivydene Juniper Kingswood Larkspur Marlpit Newlands Orchard Primrose
Queensway Redbrook Rosedale Springwell Thornbury Upton Valley Willowbrook Yewtree Abbey Bankside
Bishop's Castle Chantry Crossways Dovecote Fernhill Glebe Grange Heathfield Kingfisher Linden
Millbrook Moorland Nightingale Oaklands Pinewood Ravenscroft Rowan Sandfield Stonehill Sunnyside
Tudor Victoria Wellfield Whitecross Windmill Beacon Bluebell Brambles Copperfield Foxwood
Greenfield Harewood Holmwood Lime Tree Longmeadow Mayfield Newbridge Parkfield Ridgeway
"""
SAINTS = """
St Mary's|St John's|St Peter's|St Paul's|St Michael's|St Andrew's|St Joseph's|St Anne's
|St George's|St Thomas'|Holy Trinity|Christ Church|St Margaret's|St Chad's|St Aidan's
|Our Lady's|St Bede's|St Wilfrid's|St Oswald's|St Francis'
"""
FAITH_SUFFIX = ("Church of England", "Catholic", "CofE", "RC")


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text.split()))


CHILD_FEMALE_NAMES = _words(CHILD_FEMALE)
CHILD_MALE_NAMES = _words(CHILD_MALE)
ADULT_FEMALE_NAMES = _words(ADULT_FEMALE)
ADULT_MALE_NAMES = _words(ADULT_MALE)
FAMILY_NAMES = _words(FAMILY)
STREETS = tuple(
    f"{stem} {kind}" for i, stem in enumerate(_words(STREET_STEMS))
    for kind in (STREET_KINDS[i % len(STREET_KINDS)], STREET_KINDS[(i * 7 + 3) % len(STREET_KINDS)])
)
BUILDING_NAMES = tuple(
    f"{stem} {BUILDING_KINDS[i % len(BUILDING_KINDS)]}" for i, stem in enumerate(_words(BUILDINGS))
)
PLACES = _words(PLACE_STEMS)
SAINT_NAMES = tuple(s.strip() for s in SAINTS.replace("\n", "").split("|"))

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str, sep: str = "-") -> str:
    """Lower-case ASCII letters and digits, other runs collapsed to ``sep``."""
    plain = text.lower().replace("'", "").translate(str.maketrans("ëéèíóúâäöü", "eeeiouaaou"))
    return _SLUG.sub(sep, plain).strip(sep)


def zipf_weights(n: int, skew: float = 0.9, flat: float = 8.0) -> np.ndarray:
    """Popularity weights for a most-common-first list: a flattened Zipf curve."""
    w = 1.0 / (np.arange(n) + flat) ** skew
    return w / w.sum()


def pick(rng: np.random.Generator, names: tuple[str, ...], size: int, skew: float = 0.9) -> np.ndarray:
    """Indices into ``names`` drawn by popularity."""
    cdf = np.cumsum(zipf_weights(len(names), skew))
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), len(names) - 1)


def table(names: tuple[str, ...]) -> np.ndarray:
    """A name list as an object array, ready for fancy indexing."""
    return np.array(names, dtype=object)
